package log

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Small files in the partition directory, all in Kafka's checkpoint text
// format: a version line ("0"), a count line, then count entry lines.
//
//	recovery-point-offset-checkpoint  one entry: the offset below which every byte is fsynced
//	log-start-offset-checkpoint       one entry: the log start offset
//	leader-epoch-checkpoint           "epoch startOffset" entries, ascending
//	clean-shutdown                    one entry: "logEndOffset activeBase activeSize",
//	                                  written last by Close, removed by Open
//
// They are written atomically: a temporary file is written and fsynced,
// renamed over the old one, and the directory fsynced.
const (
	recoveryPointFile = "recovery-point-offset-checkpoint"
	logStartFile      = "log-start-offset-checkpoint"
	leaderEpochFile   = "leader-epoch-checkpoint"
	cleanShutdownFile = "clean-shutdown"
	tmpSuffix         = ".tmp"
)

// writeFileAtomic replaces dir/name with data. With syncDirectory false the
// caller fsyncs the directory itself (after several such writes).
func writeFileAtomic(dir, name string, data []byte, syncDirectory bool) error {
	tmp := filepath.Join(dir, name+tmpSuffix)
	f, err := openFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return err
	}
	n, err := f.WriteAt(data, 0)
	if err == nil && n != len(data) {
		err = fmt.Errorf("short write to %s", tmp)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if syncDirectory {
		return syncDir(dir)
	}
	return nil
}

// syncDir fsyncs a directory so that renames and removals in it are
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}

func encodeCheckpoint(lines []string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "0\n%d\n", len(lines))
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func writeCheckpoint(dir, name string, lines []string, syncDirectory bool) error {
	return writeFileAtomic(dir, name, encodeCheckpoint(lines), syncDirectory)
}

// errNoCheckpoint means the file does not exist.
var errNoCheckpoint = errors.New("no checkpoint")

// readCheckpoint returns the entry lines of a checkpoint file, errNoCheckpoint
// if it is missing, or an error describing a malformed file.
func readCheckpoint(dir, name string) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, errNoCheckpoint
	}
	if err != nil {
		return nil, err
	}
	if len(data) == 0 || data[len(data)-1] != '\n' {
		return nil, fmt.Errorf("%s: not newline-terminated", name)
	}
	lines := strings.Split(string(data[:len(data)-1]), "\n")
	if len(lines) < 2 || lines[0] != "0" {
		return nil, fmt.Errorf("%s: bad version line", name)
	}
	n, err := strconv.Atoi(lines[1])
	if err != nil || n < 0 || n != len(lines)-2 {
		return nil, fmt.Errorf("%s: bad count line", name)
	}
	return lines[2:], nil
}

// readOffsetCheckpoint reads a one-entry offset checkpoint.
func readOffsetCheckpoint(dir, name string) (int64, error) {
	lines, err := readCheckpoint(dir, name)
	if err != nil {
		return 0, err
	}
	if len(lines) != 1 {
		return 0, fmt.Errorf("%s: want one entry, have %d", name, len(lines))
	}
	v, err := strconv.ParseInt(lines[0], 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%s: bad offset %q", name, lines[0])
	}
	return v, nil
}

func writeOffsetCheckpoint(dir, name string, v int64, syncDirectory bool) error {
	return writeCheckpoint(dir, name, []string{strconv.FormatInt(v, 10)}, syncDirectory)
}

// parseInts parses a line of n space-separated integers.
func parseInts(line string, n int) ([]int64, error) {
	f := strings.Fields(line)
	if len(f) != n {
		return nil, fmt.Errorf("want %d fields in %q", n, line)
	}
	out := make([]int64, n)
	for i, s := range f {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}
