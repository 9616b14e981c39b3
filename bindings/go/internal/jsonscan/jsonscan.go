// Package jsonscan finds, fast, where a text stops being copyable as is into a
// JSON string: the encoder copies the runs between such bytes with one copy
// and handles only the bytes found.
package jsonscan

func special(c byte) bool {
	return c < 0x20 || c >= 0x80 || c == '"' || c == '\\'
}
