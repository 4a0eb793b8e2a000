// Benchmark of go-proxyproto (Debian's golang-github-pires-go-proxyproto-dev)
// on the same inputs as bench_parse, for a side-by-side figure. The inputs
// are the files bench_parse --dump writes into $PP_BENCH_INPUTS.
package goproxyproto

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"testing"

	proxyproto "github.com/pires/go-proxyproto"
)

func BenchmarkRead(b *testing.B) {
	dir := os.Getenv("PP_BENCH_INPUTS")
	files, _ := filepath.Glob(filepath.Join(dir, "*.bin"))
	if len(files) == 0 {
		b.Fatal("no inputs: set PP_BENCH_INPUTS")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := proxyproto.Read(bufio.NewReader(bytes.NewReader(data))); err != nil {
			b.Logf("%s: go-proxyproto rejects it: %v", filepath.Base(f), err)
			continue
		}
		b.Run(filepath.Base(f), func(b *testing.B) {
			r := bytes.NewReader(data)
			br := bufio.NewReaderSize(r, 65536+64)
			for i := 0; i < b.N; i++ {
				r.Reset(data)
				br.Reset(r)
				if _, err := proxyproto.Read(br); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
