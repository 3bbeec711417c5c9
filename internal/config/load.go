package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/spf13/pflag"
)

// nonConfigEnv are CHRONIK_* environment variables that belong to other
// parts of chronik; Load leaves them alone instead of refusing them.
var nonConfigEnv = []string{
	"CHRONIK_CONFIG",    // config file path (chronik serve)
	"CHRONIK_BROKERS",   // bootstrap brokers of the client commands (chronik topic ...)
	"CHRONIK_ADMIN_URL", // HTTP address of the broker for chronik search
	// Test switches that a test harness may pass on to a child broker.
	"CHRONIK_REQUIRE_CLIENTS",
	"CHRONIK_WRITE_CORPUS",
}

// nonConfigEnvPrefixes are prefixes of CHRONIK_* environment variables that
// Load leaves alone (test harness settings such as CHRONIK_TEST_BROKER).
var nonConfigEnvPrefixes = []string{"CHRONIK_TEST_"}

// RegisterFlags adds one flag per configuration key to fs, e.g. --data-dir,
// with the default value and a one-line usage. Load reads back only the flags
// that were set explicitly.
func RegisterFlags(fs *pflag.FlagSet) {
	def := Default()
	for _, k := range keys {
		switch v := k.value(def).(type) {
		case string:
			fs.String(k.Flag, v, k.Help)
		case bool:
			fs.Bool(k.Flag, v, k.Help)
		case int16:
			fs.Int16(k.Flag, v, k.Help)
		case int32:
			fs.Int32(k.Flag, v, k.Help)
		case int64:
			fs.Int64(k.Flag, v, k.Help)
		default:
			panic(fmt.Sprintf("config: key %s has unsupported type %T", k.Name, v))
		}
	}
}

// Load builds the configuration from, lowest to highest precedence, the
// defaults, the TOML file at path (skipped when path is ""), the CHRONIK_*
// variables in env (in os.Environ form, "KEY=value"), and the flags of
// flags that were explicitly set (flags may be nil). The result is
// validated.
//
// Unknown TOML keys, unknown CHRONIK_* variables, unparsable values and
// invalid settings are errors naming the key. Validation errors are a
// ValidationError whose entries record where each bad value came from.
func Load(path string, flags *pflag.FlagSet, env []string) (*Config, error) {
	c := Default()
	source := map[string]string{} // key name -> where its value came from

	if path != "" {
		if err := loadFile(c, path, source); err != nil {
			return nil, err
		}
	}
	if err := loadEnv(c, env, source); err != nil {
		return nil, err
	}
	if flags != nil {
		if err := loadFlags(c, flags, source); err != nil {
			return nil, err
		}
	}

	c.Server.LogLevel = strings.ToLower(strings.TrimSpace(c.Server.LogLevel))
	c.Storage.Fsync = strings.ToLower(strings.TrimSpace(c.Storage.Fsync))

	if err := c.Validate(); err != nil {
		var ve ValidationError
		if errors.As(err, &ve) {
			for _, fe := range ve {
				fe.Source = source[fe.Key]
			}
		}
		return nil, err
	}
	return c, nil
}

func loadFile(c *Config, path string, source map[string]string) error {
	md, err := toml.DecodeFile(path, c)
	if err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	var errs []error
	var reported []toml.Key
	for _, uk := range md.Undecoded() {
		// An unknown table also lists every key inside it; report the
		// table only.
		if slices.ContainsFunc(reported, func(p toml.Key) bool { return isPrefix(p, uk) }) {
			continue
		}
		reported = append(reported, uk)
		errs = append(errs, fmt.Errorf("config file %s: %s", path, unknownTOMLKey(uk)))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for _, k := range keys {
		if md.IsDefined(k.Section, k.Name) {
			source[k.Name] = path
		}
	}
	return nil
}

func isPrefix(prefix, k toml.Key) bool {
	return len(prefix) < len(k) && slices.Equal(prefix, k[:len(prefix)])
}

// unknownTOMLKey explains an undecoded key, pointing at the right table or
// at a likely intended key.
func unknownTOMLKey(uk toml.Key) string {
	msg := fmt.Sprintf("unknown key %q", uk.String())
	name := uk[len(uk)-1]
	if k, ok := keyByName[name]; ok {
		return msg + fmt.Sprintf(" (%s belongs in the [%s] table)", name, k.Section)
	}
	if len(uk) == 1 {
		for _, t := range sections {
			if editDistance(name, t) <= 2 {
				return msg + fmt.Sprintf(" (did you mean the [%s] table?)", t)
			}
		}
	}
	if s := suggest(name); s != "" {
		return msg + fmt.Sprintf(" (did you mean %q in [%s]?)", s, keyByName[s].Section)
	}
	return msg + " (allowed tables: [" + strings.Join(sections, "], [") + "]; see chronik.example.toml)"
}

func loadEnv(c *Config, env []string, source map[string]string) error {
	var errs []error
	for _, kv := range env {
		name, val, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, EnvPrefix) || isNonConfigEnv(name) {
			continue
		}
		k, ok := keyByName[strings.ToLower(strings.TrimPrefix(name, EnvPrefix))]
		if !ok || k.Env != name {
			msg := fmt.Sprintf("unknown environment variable %s", name)
			if s := suggest(strings.ToLower(strings.TrimPrefix(name, EnvPrefix))); s != "" {
				msg += fmt.Sprintf(" (did you mean %s?)", keyByName[s].Env)
			}
			errs = append(errs, errors.New(msg))
			continue
		}
		if err := k.set(c, val); err != nil {
			errs = append(errs, fmt.Errorf("environment variable %s (%s): %w", name, k.Path(), err))
			continue
		}
		source[k.Name] = name
	}
	return errors.Join(errs...)
}

func isNonConfigEnv(name string) bool {
	if slices.Contains(nonConfigEnv, name) {
		return true
	}
	for _, p := range nonConfigEnvPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

func loadFlags(c *Config, fs *pflag.FlagSet, source map[string]string) error {
	var errs []error
	byFlag := make(map[string]Key, len(keys))
	for _, k := range keys {
		byFlag[k.Flag] = k
	}
	fs.Visit(func(f *pflag.Flag) { // only flags set on the command line
		k, ok := byFlag[f.Name]
		if !ok {
			return // not a configuration flag (e.g. --config)
		}
		if err := k.set(c, f.Value.String()); err != nil {
			errs = append(errs, fmt.Errorf("flag --%s: %w", f.Name, err))
			return
		}
		source[k.Name] = "--" + f.Name
	})
	return errors.Join(errs...)
}
