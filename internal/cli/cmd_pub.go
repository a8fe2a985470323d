package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"
)

// maxLineBytes bounds one line of "plexor pub -".
const maxLineBytes = 16 << 20

// cmdPub publishes to channels: the data argument, a file, or each line of
// stdin as its own message. It prints each message's ID on stdout.
func cmdPub(ctx context.Context, args []string, sio Stdio) int {
	fs := newFlagSet("pub", "[flags] --channels a,b [data | --file F | -]",
		"Publish one message (the data argument or the contents of --file) or, with -,\n"+
			"each non-empty line of stdin as its own message, as it is read. Data is sent\n"+
			"as text (POST /publish?channels=…). Prints each message's ID.", sio)
	base := fs.String("url", defaultURL(sio.Env), "the service's base URL (PLEXOR_URL when set)")
	token := fs.String("token", "", "publisher token (default: PLEXOR_TOKEN)")
	channels := fs.String("channels", "", "comma-separated channels to publish to (required)")
	typ := fs.String("type", "", "event type (default: message)")
	file := fs.String("file", "", "publish the contents of this file as one message")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if *token == "" {
		*token = sio.Env["PLEXOR_TOKEN"]
	}
	switch {
	case *channels == "":
		return usageError(fs, "--channels is required")
	case *token == "":
		return usageError(fs, "a publisher token is required: --token or PLEXOR_TOKEN")
	case fs.NArg() > 1:
		return usageError(fs, "give the data as one argument (quote it), or use --file or -")
	case fs.NArg() == 1 && *file != "":
		return usageError(fs, "give the data either as an argument or with --file, not both")
	case fs.NArg() == 0 && *file == "":
		return usageError(fs, "no data: give it as an argument, with --file F, or - to read stdin lines")
	}
	query := url.Values{"channels": {*channels}}
	if *typ != "" {
		query.Set("type", *typ)
	}
	target, err := endpoint(*base, "/publish", query)
	if err != nil {
		return usageError(fs, "%v", err)
	}
	p := &publisher{url: target, token: *token, client: &http.Client{Timeout: 30 * time.Second}}

	switch {
	case *file != "":
		data, err := os.ReadFile(*file)
		if err != nil {
			fmt.Fprintln(sio.Err, "plexor pub:", err)
			return ExitFailure
		}
		err = p.publishTo(ctx, sio.Out, data)
		return report(sio.Err, err)
	case fs.Arg(0) == "-":
		return report(sio.Err, p.publishLines(ctx, sio.In, sio.Out))
	default:
		return report(sio.Err, p.publishTo(ctx, sio.Out, []byte(fs.Arg(0))))
	}
}

// report prints err (if any) and returns the exit status.
func report(w io.Writer, err error) int {
	if err != nil {
		fmt.Fprintln(w, "plexor pub:", err)
		return ExitFailure
	}
	return ExitOK
}

// publisher sends messages to one publish URL.
type publisher struct {
	url, token string
	client     *http.Client
}

// publishLines publishes each non-empty line of in as it is read and stops
// at the end of in, at the first failure, or when ctx ends.
func (p *publisher) publishLines(ctx context.Context, in io.Reader, out io.Writer) error {
	lines := make(chan []byte)
	readErr := make(chan error, 1)
	stop := make(chan struct{})
	defer close(stop)
	// The reader goroutine is owned by publishLines: it ends at the end of in,
	// on a read error, or when stop is closed. When ctx ends while it is
	// blocked reading a terminal, it stays blocked until the process exits,
	// which follows at once.
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 64<<10), maxLineBytes)
		for sc.Scan() {
			line := bytes.Clone(sc.Bytes())
			if len(line) == 0 {
				continue
			}
			select {
			case lines <- line:
			case <-stop:
				return
			}
		}
		readErr <- sc.Err()
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case line, ok := <-lines:
			if !ok {
				if err := <-readErr; err != nil {
					return fmt.Errorf("reading stdin: %w", err)
				}
				return nil
			}
			if err := p.publishTo(ctx, out, line); err != nil {
				return err
			}
		}
	}
}

// publishTo publishes data as one text message and prints its ID to out.
func (p *publisher) publishTo(ctx context.Context, out io.Writer, data []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return responseError(resp)
	}
	var res struct {
		ID string `json:"id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil || res.ID == "" {
		return fmt.Errorf("unexpected answer from %s: not a publish result", p.url)
	}
	_, err = fmt.Fprintln(out, res.ID)
	return err
}
