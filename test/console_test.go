package test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// chromium finds Debian's Chromium (installed by .ci/run).
func chromium(t *testing.T) string {
	for _, p := range []string{os.Getenv("CHRONIK_TEST_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	requireClient(t, "chromium not found (apt-get install chromium)")
	return ""
}

// browser starts headless Chromium; JavaScript exceptions on the page fail
// the test (the console must never show a stack trace or break).
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.WindowSize(1400, 1000),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	var mu sync.Mutex
	var jsErrors []string
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok {
			d := e.ExceptionDetails
			msg := fmt.Sprintf("%s (line %d:%d)", d.Text, d.LineNumber+1, d.ColumnNumber+1)
			if d.Exception != nil && d.Exception.Description != "" {
				msg = d.Exception.Description
			}
			mu.Lock()
			jsErrors = append(jsErrors, msg)
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancelTimeout()
		cancel()
		cancelAlloc()
		mu.Lock()
		defer mu.Unlock()
		if len(jsErrors) > 0 {
			t.Errorf("JavaScript errors in the console: %v", jsErrors)
		}
	})
	return ctx
}

// screenshot saves the page to CHRONIK_TEST_SCREENSHOTS (or a temporary
// folder) for people to look at.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("CHRONIK_TEST_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG, not JPEG
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitText waits until the element's text (as shown: CSS may upper-case
// it) contains want, ignoring case.
func waitText(t *testing.T, ctx context.Context, sel, want string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var got string
	for time.Now().Before(deadline) {
		wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		var err error
		got, err = chromedp.Run(wctx, chromedp.Text(chromedp.CSS(sel)))
		cancel()
		if err == nil && strings.Contains(strings.ToLower(got), strings.ToLower(want)) {
			return got
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: text %q does not contain %q", sel, got, want)
	return ""
}

func TestConsole(t *testing.T) {
	ctx := browser(t)
	tb := startBroker(t, "", nil)
	page := "http://" + tb.b.HTTPAddr() + "/"
	adm := tb.admin()
	kctx := testContext(t)

	createTopic(t, adm, "orders", 2, map[string]*string{"chronik.search.enabled": strp("true")})
	cl := newClient(t, tb.addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	customers := []string{"alice", "bob", "carol", "dave", "erin", "frank"}
	for i, c := range customers {
		v := fmt.Sprintf(`{"order":%d,"customer":%q,"status":"%s","amount":%d}`, 100+i, c, map[bool]string{true: "paid", false: "shipped"}[i%2 == 0], 10*(i+1))
		if c == "erin" {
			v = `{"order":104,"customer":"erin","status":"refused","note":"card declined by issuer"}`
		}
		r := &kgo.Record{Topic: "orders", Partition: int32(i % 2), Key: []byte("cust-" + c), Value: []byte(v),
			Headers: []kgo.RecordHeader{{Key: "source", Value: []byte("webshop")}}}
		if err := cl.ProduceSync(kctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// A group that read two records of partition 0 and one of partition 1.
	if err := adm.CommitAllOffsets(kctx, "billing", offsetsOf("orders", map[int32]int64{0: 2, 1: 1})); err != nil {
		t.Fatal(err)
	}
	waitSearchable(t, tb.b.HTTPAddr(), "orders", len(customers))

	// Overview: the totals, and the charts drawn from readings every 2 s
	// while a producer runs.
	createTopic(t, adm, "clicks", 1, nil)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			cl.Produce(kctx, &kgo.Record{Topic: "clicks", Value: fmt.Appendf(nil, "click %d", i)}, nil)
		}
	}()
	if err := chromedp.Do(ctx, chromedp.Navigate(page)); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "#cards", "Records")
	waitText(t, ctx, "#ov-topics", "orders")
	time.Sleep(7 * time.Second)
	close(stop)
	wg.Wait()
	if now := waitText(t, ctx, "#rate-now", "/s"); strings.Contains(now, "now 0/s") {
		t.Fatalf("throughput while producing: %q", now)
	}
	screenshot(t, ctx, "1-overview")

	// Topics: listed with their record count.
	if err := chromedp.Do(ctx, chromedp.Navigate(page+"#/topics")); err != nil {
		t.Fatal(err)
	}
	row := waitText(t, ctx, `#topics-table tr[data-topic="orders"]`, "orders")
	if !strings.Contains(row, "6") || !strings.Contains(row, "on") {
		t.Fatalf("topic row %q lacks 6 records / search on", row)
	}
	screenshot(t, ctx, "2-topics")

	// Creating a topic from the console makes it for Kafka clients.
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS(`#create-topic input[name="name"]`), "invoices"),
		chromedp.SetValue(chromedp.CSS(`#create-topic input[name="partitions"]`), "3"),
		chromedp.Click(chromedp.CSS(`#create-topic button`)),
	); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "#topics-msg", "Created topic invoices")
	if d, err := adm.ListTopics(kctx, "invoices"); err != nil || len(d["invoices"].Partitions) != 3 {
		t.Fatalf("console create: %v %+v", err, d)
	}

	// The message browser shows each record, pretty-printed, with headers.
	if err := chromedp.Do(ctx, chromedp.Navigate(page+"#/topics/orders?tab=messages")); err != nil {
		t.Fatal(err)
	}
	text := waitText(t, ctx, "#records", "6 record(s)")
	for _, c := range customers {
		if !strings.Contains(text, `"customer": "`+c+`"`) || !strings.Contains(text, "cust-"+c) {
			t.Fatalf("message browser lacks %s:\n%s", c, text)
		}
	}
	if !strings.Contains(text, "source=webshop") {
		t.Fatalf("headers not shown:\n%s", text)
	}
	screenshot(t, ctx, "3-messages")
	// One partition from an offset.
	if err := chromedp.Do(ctx, chromedp.Navigate(page+"#/topics/orders?tab=messages&partition=1&mode=offset&at=1")); err != nil {
		t.Fatal(err)
	}
	text = waitText(t, ctx, "#records", "2 record(s)")
	if !strings.Contains(text, "dave") || !strings.Contains(text, "frank") || strings.Contains(text, "bob") {
		t.Fatalf("partition 1 from offset 1:\n%s", text)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(page+"#/topics/orders?tab=partitions")); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "#partitions-table", "3")
	screenshot(t, ctx, "4-partitions")

	// The group's lag per partition: 3 - 2 and 3 - 1.
	if err := chromedp.Do(ctx, chromedp.Navigate(page+"#/groups")); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, `#groups-table tr[data-group="billing"]`, "3")
	screenshot(t, ctx, "5-groups")
	if err := chromedp.Do(ctx, chromedp.Navigate(page+"#/groups/billing")); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "#total-lag", "3")
	waitText(t, ctx, `#lag-table tr[data-partition="0"] td.lag`, "1")
	waitText(t, ctx, `#lag-table tr[data-partition="1"] td.lag`, "2")
	screenshot(t, ctx, "6-group")

	// Search finds the record by words of its value, highlighted.
	if err := chromedp.Do(ctx, chromedp.Navigate(page+"#/search?topic=orders&q=card%20AND%20declined")); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "#search-total", "1 match")
	text = waitText(t, ctx, "#results", "erin")
	marks, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#results mark")].map(m => m.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	if len(marks) == 0 || !strings.Contains(text, "refused") {
		t.Fatalf("search result %q, marks %v", text, marks)
	}
	screenshot(t, ctx, "7-search")
	// A field query typed into the box.
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS(`#search input[name="q"]`), "status:paid AND amount:>=30"),
		chromedp.Click(chromedp.CSS(`#search button`)),
	); err != nil {
		t.Fatal(err)
	}
	text = waitText(t, ctx, "#search-total", "1 match")
	_ = text
	waitText(t, ctx, "#results", "carol")
	// A malformed query says what is wrong instead of breaking.
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS(`#search input[name="q"]`), "status:(paid"),
		chromedp.Click(chromedp.CSS(`#search button`)),
	); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "#results .error", "invalid query")
}

func offsetsOf(topic string, at map[int32]int64) kadm.Offsets {
	os := kadm.Offsets{}
	for p, o := range at {
		os.Add(kadm.Offset{Topic: topic, Partition: p, At: o, LeaderEpoch: -1})
	}
	return os
}
