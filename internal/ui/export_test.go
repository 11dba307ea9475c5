package ui

// For the tests of package ui_test.
var (
	PrettyMaxBytes = prettyMaxBytes
	PrettyWhole    = prettyWhole
)
