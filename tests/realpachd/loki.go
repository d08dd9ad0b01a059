// A minimal Loki for the reference server's worker pods.
//
// A deployed pachd (Pachyderm's Helm chart: lokiDeploy and lokiLogging both
// true) answers GetLogs from Loki, which holds every container's output
// labelled with its pod's labels. With -workers, kubelet.go feeds each
// container's output lines here, labelled the same way (the pod's labels plus
// container, pod and namespace), and pachd queries this server through its
// own Loki client. Only what pachd asks is implemented: GET
// /loki/api/v1/query_range with a stream selector of `name="value"` matchers
// (=, !=) and `|=` / `!=` line filters, start/end in nanoseconds, limit and
// direction. Anything else is answered 400 with the reason, so a new kind of
// query shows up as an error rather than as silently missing logs.
//
// It stores lines in memory for the life of the process and must not be used
// for anything but the test server's own pods.
package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/pachyderm/pachyderm/v2/src/internal/errors"
)

type lokiEntry struct {
	at   time.Time
	line string
}

type lokiStream struct {
	labels  map[string]string
	entries []lokiEntry
}

type miniLoki struct {
	mu      sync.Mutex
	streams []*lokiStream
	last    time.Time
	server  *http.Server
	addr    string
}

func startLoki() (*miniLoki, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, errors.Wrap(err, "listen for the Loki API")
	}
	l := &miniLoki{addr: lis.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("/loki/api/v1/query_range", l.queryRange)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "realpachd's Loki serves only /loki/api/v1/query_range, not "+r.URL.Path, http.StatusNotFound)
	})
	l.server = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = l.server.Serve(lis) }()
	return l, nil
}

func (l *miniLoki) close() { _ = l.server.Close() }

// newStream registers a stream (one container of one pod) with its labels.
func (l *miniLoki) newStream(labels map[string]string) *lokiStream {
	s := &lokiStream{labels: labels}
	l.mu.Lock()
	l.streams = append(l.streams, s)
	l.mu.Unlock()
	return s
}

// push appends one line; timestamps strictly increase, so no two lines of the
// process share one (Loki keeps only one of two identical timestamped lines).
func (l *miniLoki) push(s *lokiStream, line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	at := time.Now()
	if !at.After(l.last) {
		at = l.last.Add(time.Nanosecond)
	}
	l.last = at
	s.entries = append(s.entries, lokiEntry{at: at, line: line})
}

type matcher struct {
	name, value string
	negate      bool
}

type lineFilter struct {
	text   string
	negate bool
}

// parseLogQL reads `{a="x", b!="y"} |= "z" != "w"`: the only shape pachd sends.
func parseLogQL(q string) ([]matcher, []lineFilter, error) {
	p := &logqlParser{s: q}
	p.space()
	if !p.take("{") {
		return nil, nil, errors.Errorf("query %q: expected a stream selector", q)
	}
	var ms []matcher
	for {
		p.space()
		if p.take("}") {
			break
		}
		if len(ms) > 0 && !p.take(",") {
			return nil, nil, errors.Errorf("query %q: expected ',' or '}' at %d", q, p.i)
		}
		p.space()
		name := p.ident()
		if name == "" {
			return nil, nil, errors.Errorf("query %q: expected a label name at %d", q, p.i)
		}
		p.space()
		var neg bool
		switch {
		case p.take("!="):
			neg = true
		case p.take("="):
		default:
			return nil, nil, errors.Errorf("query %q: only = and != matchers are supported (at %d)", q, p.i)
		}
		p.space()
		value, err := p.quoted()
		if err != nil {
			return nil, nil, errors.Wrapf(err, "query %q", q)
		}
		ms = append(ms, matcher{name: name, value: value, negate: neg})
	}
	var fs []lineFilter
	for {
		p.space()
		if p.done() {
			return ms, fs, nil
		}
		var neg bool
		switch {
		case p.take("|="):
		case p.take("!="):
			neg = true
		default:
			return nil, nil, errors.Errorf("query %q: only |= and != line filters are supported (at %d)", q, p.i)
		}
		p.space()
		text, err := p.quoted()
		if err != nil {
			return nil, nil, errors.Wrapf(err, "query %q", q)
		}
		fs = append(fs, lineFilter{text: text, negate: neg})
	}
}

type logqlParser struct {
	s string
	i int
}

func (p *logqlParser) done() bool { return p.i >= len(p.s) }

func (p *logqlParser) space() {
	for p.i < len(p.s) && unicode.IsSpace(rune(p.s[p.i])) {
		p.i++
	}
}

func (p *logqlParser) take(tok string) bool {
	if strings.HasPrefix(p.s[p.i:], tok) {
		p.i += len(tok)
		return true
	}
	return false
}

func (p *logqlParser) ident() string {
	start := p.i
	for p.i < len(p.s) && (p.s[p.i] == '_' || unicode.IsLetter(rune(p.s[p.i])) || (p.i > start && unicode.IsDigit(rune(p.s[p.i])))) {
		p.i++
	}
	return p.s[start:p.i]
}

// quoted reads one double-quoted string with Go escapes (pachd quotes with %q).
func (p *logqlParser) quoted() (string, error) {
	if p.done() || p.s[p.i] != '"' {
		return "", errors.Errorf("expected a quoted string at %d", p.i)
	}
	for j := p.i + 1; j < len(p.s); j++ {
		switch p.s[j] {
		case '\\':
			j++
		case '"':
			v, err := strconv.Unquote(p.s[p.i : j+1])
			if err != nil {
				return "", errors.Wrapf(err, "bad string at %d", p.i)
			}
			p.i = j + 1
			return v, nil
		}
	}
	return "", errors.Errorf("unterminated string at %d", p.i)
}

func nanos(v string, def time.Time) (time.Time, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, errors.Errorf("bad timestamp %q (want Unix nanoseconds)", v)
	}
	return time.Unix(0, n), nil
}

type lokiHit struct {
	stream *lokiStream
	entry  lokiEntry
}

func (l *miniLoki) queryRange(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ms, fs, err := parseLogQL(q.Get("query"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	now := time.Now()
	start, err := nanos(q.Get("start"), now.Add(-time.Hour))
	if err == nil {
		var end time.Time
		if end, err = nanos(q.Get("end"), now); err == nil {
			l.answer(w, q.Get("direction"), q.Get("limit"), ms, fs, start, end)
			return
		}
	}
	http.Error(w, err.Error(), http.StatusBadRequest)
}

func (l *miniLoki) answer(w http.ResponseWriter, direction, limitText string, ms []matcher, fs []lineFilter, start, end time.Time) {
	limit := 100 // Loki's default
	if limitText != "" {
		n, err := strconv.Atoi(limitText)
		if err != nil || n <= 0 {
			http.Error(w, fmt.Sprintf("bad limit %q", limitText), http.StatusBadRequest)
			return
		}
		limit = n
	}
	var hits []lokiHit
	l.mu.Lock()
	for _, s := range l.streams {
		if !selects(s.labels, ms) {
			continue
		}
		for _, e := range s.entries {
			// Loki's range: start inclusive, end exclusive.
			if e.at.Before(start) || !e.at.Before(end) || !passes(e.line, fs) {
				continue
			}
			hits = append(hits, lokiHit{stream: s, entry: e})
		}
	}
	l.mu.Unlock()
	backward := strings.EqualFold(direction, "backward")
	sort.SliceStable(hits, func(i, j int) bool {
		if backward {
			return hits[i].entry.at.After(hits[j].entry.at)
		}
		return hits[i].entry.at.Before(hits[j].entry.at)
	})
	if len(hits) > limit {
		hits = hits[:limit]
	}
	type stream struct {
		Stream map[string]string `json:"stream"`
		Values [][2]string       `json:"values"`
	}
	var result []*stream
	byStream := map[*lokiStream]*stream{}
	for _, h := range hits {
		out := byStream[h.stream]
		if out == nil {
			out = &stream{Stream: h.stream.labels, Values: [][2]string{}}
			byStream[h.stream] = out
			result = append(result, out)
		}
		out.Values = append(out.Values, [2]string{strconv.FormatInt(h.entry.at.UnixNano(), 10), h.entry.line})
	}
	if result == nil {
		result = []*stream{}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"status": "success",
		"data":   map[string]any{"resultType": "streams", "result": result},
	})
}

func selects(labels map[string]string, ms []matcher) bool {
	for _, m := range ms {
		if (labels[m.name] == m.value) == m.negate {
			return false
		}
	}
	return true
}

func passes(line string, fs []lineFilter) bool {
	for _, f := range fs {
		if strings.Contains(line, f.text) == f.negate {
			return false
		}
	}
	return true
}
