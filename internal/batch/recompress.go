package batch

import (
	"encoding/binary"
	"fmt"

	"github.com/chronik-streaming/chronik/internal/compress"
)

// Recompress returns the batch at the start of b with its records
// compressed with codec instead (compress.None: uncompressed), as a topic
// whose compression.type is not "producer" stores it. Records are not
// decoded, only their bytes decompressed and compressed again; the header is
// kept, with the codec bits, length and CRC updated. A batch that already
// uses codec is returned as is.
func Recompress(b []byte, codec int8) ([]byte, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return nil, err
	}
	if int64(len(b)) < h.Size() {
		return nil, fmt.Errorf("%w: batch of %d bytes, have %d", ErrTruncated, h.Size(), len(b))
	}
	if h.Codec() == codec {
		return b, nil
	}
	data := b[HeaderSize:h.Size()]
	if c := h.Codec(); c != compress.None {
		if data, err = compress.Decode(c, data); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadRecords, err)
		}
	}
	out := make([]byte, HeaderSize, HeaderSize+len(data))
	copy(out, b[:HeaderSize])
	if codec == compress.None {
		out = append(out, data...)
	} else if out, err = compress.Encode(codec, data, out); err != nil {
		return nil, err
	}
	attrs := binary.BigEndian.Uint16(out[offAttributes:])&^AttrCodecMask | uint16(codec)
	binary.BigEndian.PutUint16(out[offAttributes:], attrs)
	binary.BigEndian.PutUint32(out[offBatchLength:], uint32(len(out)-LengthOffset))
	binary.BigEndian.PutUint32(out[offCRC:], ComputeCRC(out))
	return out, nil
}
