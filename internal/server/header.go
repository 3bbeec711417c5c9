package server

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// RequestHeader is the part of a request before its body (request header v1
// or v2). Bodies are decoded by kmsg; headers are ours.
type RequestHeader struct {
	APIKey        int16
	APIVersion    int16
	CorrelationID int32
	ClientID      *string
}

var errShortHeader = errors.New("request header truncated")

// parseHeaderPrefix reads api key, version and correlation id: the fields
// every header version shares, enough to answer even an unusable request.
func parseHeaderPrefix(b []byte) (RequestHeader, error) {
	if len(b) < 8 {
		return RequestHeader{}, errShortHeader
	}
	return RequestHeader{
		APIKey:        int16(binary.BigEndian.Uint16(b)),
		APIVersion:    int16(binary.BigEndian.Uint16(b[2:])),
		CorrelationID: int32(binary.BigEndian.Uint32(b[4:])),
	}, nil
}

// parseClientID reads the nullable client id after the prefix and, for
// flexible (v2) headers, skips the tagged fields. It returns the body.
func parseClientID(h *RequestHeader, b []byte, flexible bool) ([]byte, error) {
	b = b[8:]
	if len(b) < 2 {
		return nil, errShortHeader
	}
	n := int(int16(binary.BigEndian.Uint16(b)))
	b = b[2:]
	switch {
	case n == -1:
	case n < -1 || n > len(b):
		return nil, fmt.Errorf("client id length %d out of range", n)
	default:
		s := string(b[:n])
		h.ClientID = &s
		b = b[n:]
	}
	if !flexible {
		return b, nil
	}
	return skipTags(b)
}

// skipTags skips a tagged-field section: a count, then (tag, size, bytes).
func skipTags(b []byte) ([]byte, error) {
	count, n := binary.Uvarint(b)
	if n <= 0 {
		return nil, errShortHeader
	}
	b = b[n:]
	for i := uint64(0); i < count; i++ {
		if _, n = binary.Uvarint(b); n <= 0 {
			return nil, errShortHeader
		}
		b = b[n:]
		size, n := binary.Uvarint(b)
		if n <= 0 || size > uint64(len(b)-n) {
			return nil, errShortHeader
		}
		b = b[n+int(size):]
	}
	return b, nil
}
