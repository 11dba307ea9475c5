// Package eventbody writes the JSON body of a webhook, the bytes receivers
// verify signatures over. Publishing and the Test button both use it, so a
// test send is encoded exactly like a real delivery of the same data.
package eventbody

import (
	"bytes"
	"encoding/json"
	"time"
)

// Build returns {"id":…,"type":…,"timestamp":…,"data":…} in that order.
// The timestamp is ts in UTC to the second, RFC 3339. data must be valid
// JSON; it is kept byte for byte apart from insignificant space, and <, >
// and & are not \u-escaped (encoding/json's Marshal would escape them, and
// the stored body is sent as is on every attempt).
//
// The body is written by hand rather than by encoding/json because this
// runs for every published event: ids and validated event types need no
// escaping, and anything else takes the encoder's path.
func Build(id, typ string, ts time.Time, data []byte) ([]byte, error) {
	stamp := ts.UTC().Truncate(time.Second).Format(time.RFC3339)
	buf := bytes.NewBuffer(make([]byte, 0, len(data)+len(id)+len(typ)+len(stamp)+48))
	buf.WriteString(`{"id":`)
	writeString(buf, id)
	buf.WriteString(`,"type":`)
	writeString(buf, typ)
	buf.WriteString(`,"timestamp":"`)
	buf.WriteString(stamp)
	buf.WriteString(`","data":`)
	if err := json.Compact(buf, data); err != nil {
		return nil, err
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// writeString writes s as a JSON string: as is when it is printable ASCII
// without quotes or backslashes (every id and event type), otherwise
// through the encoder without HTML escaping.
func writeString(buf *bytes.Buffer, s string) {
	plain := true
	for i := 0; i < len(s) && plain; i++ {
		c := s[i]
		plain = c >= 0x20 && c < 0x7f && c != '"' && c != '\\'
	}
	if plain {
		buf.WriteByte('"')
		buf.WriteString(s)
		buf.WriteByte('"')
		return
	}
	// A buffer of its own: handing buf to the encoder would move it to
	// the heap on the common path too.
	var tmp bytes.Buffer
	enc := json.NewEncoder(&tmp)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)                    // a string always encodes
	buf.Write(tmp.Bytes()[:tmp.Len()-1]) // without the encoder's newline
}
