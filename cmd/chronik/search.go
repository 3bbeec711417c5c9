package main

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// adminURLEnv names the broker's HTTP address for the commands that use
// it (search).
const adminURLEnv = "CHRONIK_ADMIN_URL"

const defaultAdminURL = "http://localhost:3000"

type searchHit struct {
	Topic      string              `json:"topic"`
	Partition  int32               `json:"partition"`
	Offset     int64               `json:"offset"`
	Timestamp  time.Time           `json:"timestamp"`
	Key        *searchBytes        `json:"key"`
	Value      *searchBytes        `json:"value"`
	Highlights map[string][]string `json:"highlights"`
}

type searchBytes struct {
	Data     string `json:"data"`
	Encoding string `json:"encoding"`
}

func (b *searchBytes) String() string {
	switch {
	case b == nil:
		return "null"
	case b.Encoding == "base64":
		return "base64:" + b.Data
	}
	return b.Data
}

func newSearchCmd(env []string) *cobra.Command {
	var (
		adminURL   string
		limit      int
		skip       int
		sortBy     string
		partitions []string
		from, to   string
		output     string
		timeout    time.Duration
	)
	adminURL = lookupEnv(env, adminURLEnv)
	if adminURL == "" {
		adminURL = defaultAdminURL
	}
	cmd := &cobra.Command{
		Use:   "search TOPIC QUERY",
		Short: "Search a topic's messages (topics created with chronik.search.enabled=true)",
		Long: `Search the messages of a searchable topic with a Lucene/Kibana query:
words, "phrases", field:value (JSON fields by path, key, headers.NAME),
prefixes and wildcards (err*, e?r), AND/OR/NOT, +/-, parentheses, ranges
(user.id:[100 TO 199], user.id:>=100, timestamp:>now-1h). TOPIC "*"
searches every searchable topic.

The broker's HTTP address is --admin-url, or else CHRONIK_ADMIN_URL, or
else http://localhost:3000. Exit status: 0 with hits or none, 1 when the
broker refuses the search (bad query, unknown topic), 2 on usage errors.`,
		Example: `  chronik search logs 'level:error AND "connection refused"'
  chronik search logs 'user.id:[100 TO 199]' --sort newest --limit 5
  chronik search '*' timeout -o json`,
		Args: usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "table" && output != "json" && output != "values" {
				return usageError(cmd, fmt.Errorf("--output must be table, json or values, got %q", output))
			}
			topic, q := args[0], args[1]
			path := "/api/v1/topics/" + url.PathEscape(topic) + "/search"
			if topic == "*" {
				path = "/api/v1/search"
			}
			params := url.Values{"q": {q}, "limit": {strconv.Itoa(limit)}}
			if skip > 0 {
				params.Set("skip", strconv.Itoa(skip))
			}
			if sortBy != "" {
				params.Set("sort", sortBy)
			}
			if len(partitions) > 0 {
				params.Set("partition", strings.Join(partitions, ","))
			}
			if from != "" {
				params.Set("from", from)
			}
			if to != "" {
				params.Set("to", to)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(adminURL, "/")+path+"?"+params.Encode(), nil)
			if err != nil {
				return usageError(cmd, fmt.Errorf("--admin-url: %w", err))
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return fmt.Errorf("cannot reach the broker's HTTP port at %s: %w", adminURL, err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
			if err != nil {
				return err
			}
			var res struct {
				Total  uint64      `json:"total"`
				TookMs float64     `json:"took_ms"`
				Hits   []searchHit `json:"hits"`
				Error  string      `json:"error"`
			}
			if err := json.Unmarshal(body, &res); err != nil {
				return fmt.Errorf("unexpected answer from %s (HTTP %d): %.200s", adminURL, resp.StatusCode, body)
			}
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("search refused (HTTP %d): %s", resp.StatusCode, res.Error)
			}
			w := cmd.OutOrStdout()
			switch output {
			case "json":
				_, err = w.Write(append(body, '\n'))
				return err
			case "values":
				for _, h := range res.Hits {
					fmt.Fprintln(w, h.Value.String())
				}
				return nil
			}
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "TOPIC\tPARTITION\tOFFSET\tTIMESTAMP\tKEY\tVALUE")
			for _, h := range res.Hits {
				v := h.Value.String()
				if f := h.Highlights["value"]; len(f) > 0 {
					v = html.UnescapeString(strings.NewReplacer("<mark>", "[", "</mark>", "]").Replace(f[0]))
				}
				fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\n", h.Topic, h.Partition, h.Offset,
					h.Timestamp.Format(time.RFC3339Nano), clip(h.Key.String(), 30), clip(oneLine(v), 100))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			_, err = fmt.Fprintf(w, "%d of %d hits in %.1f ms\n", len(res.Hits), res.Total, res.TookMs)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&adminURL, "admin-url", adminURL, "the broker's HTTP address (env "+adminURLEnv+")")
	f.IntVarP(&limit, "limit", "n", 20, "most hits to show (1-1000)")
	f.IntVar(&skip, "skip", 0, "hits to skip (the next page)")
	f.StringVar(&sortBy, "sort", "", "relevance (default), newest, oldest or offset")
	f.StringSliceVarP(&partitions, "partition", "p", nil, "only these partitions")
	f.StringVar(&from, "from", "", "only records at or after this time (RFC 3339 or epoch ms)")
	f.StringVar(&to, "to", "", "only records before this time (RFC 3339 or epoch ms)")
	f.StringVarP(&output, "output", "o", "table", "table, json (the API's answer) or values (one value per line)")
	f.DurationVar(&timeout, "timeout", 15*time.Second, "give up after this long")
	return cmd
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
