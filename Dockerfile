# hookd as a container: a static binary (pure-Go SQLite, no cgo) on a
# distroless base that has CA certificates and no shell, running as an
# unprivileged user, with its SQLite database on the /data volume.
#
#   docker build -t hookd --build-arg VERSION=$(git describe --always) .
#   docker run -d --name hookd -p 8080:8080 -v hookd-data:/data \
#     -e HOOKD_ADMIN_KEY=… -e HOOKD_ENCRYPTION_KEY=… hookd
FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so a code change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/hookd/hookd/internal/app.Version=${VERSION}" \
      -o /out/hookd ./cmd/hookd \
 && mkdir /out/data

# static-debian12 carries /etc/ssl/certs (https endpoints are verified
# against the system roots) and the nonroot user (65532).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/hookd /usr/local/bin/hookd
# A fresh named volume takes the owner of the image's directory, so the
# unprivileged user can create the database in it.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
VOLUME /data
EXPOSE 8080
# SIGTERM drains: in-flight deliveries finish and are recorded. Give it
# longer than the webhook timeout (docker stop -t 30).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/hookd"]
# Inside a container hookd must listen on every interface; the default
# 127.0.0.1 would be unreachable through the published port.
CMD ["serve", "--addr", "0.0.0.0:8080", "--db", "/data/hookd.db"]
