package admin

import (
	"embed"
	"io/fs"
	"net/http"
)

// The web console: plain HTML, CSS and JavaScript with no build step, so it
// ships inside the binary and works from `go run ./cmd/chronik`. It talks
// only to the REST API.
//
//go:embed console
var consoleFiles embed.FS

func registerConsole(mux *http.ServeMux) {
	sub, err := fs.Sub(consoleFiles, "console")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.FileServerFS(sub)
	mux.Handle("GET /console/", http.StripPrefix("/console/", files))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		// The page never changes under a running binary, but a new
		// binary must not be hidden behind a cached one.
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFileFS(w, r, sub, "index.html")
	})
}
