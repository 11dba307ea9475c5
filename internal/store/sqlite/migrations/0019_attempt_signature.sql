-- The webhook-signature header each attempt was sent with, for the
-- delivery page's request headers (the others follow from the attempt and
-- its event). '' for attempts made before, and for those not sent.
ALTER TABLE attempts ADD COLUMN signature TEXT NOT NULL DEFAULT '';
