// Package dashboard serves recoflow's web page (for `recoflow demo` and
// `recoflow serve --dashboard`): the state and last run of each stage, the
// training loss curve with the model's hold-out or evaluation metrics, the
// API's request figures, live stream throughput and latency, recent
// recommendations with product names, and a form to try the API. The page,
// its scripts and its icon are embedded; nothing is fetched from the
// internet. Every figure comes from a JSON endpoint under <prefix>api/,
// which reports a part's error instead of failing; a part the process does
// not run is left out, and the page says so.
package dashboard

import (
	"bufio"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/recoflow/recoflow/dataset"
	"github.com/recoflow/recoflow/lake"
	"github.com/recoflow/recoflow/model"
	"github.com/recoflow/recoflow/sample"
	"github.com/recoflow/recoflow/training"
)

//go:embed assets
var assets embed.FS

// Options configure a dashboard Handler.
type Options struct {
	// Lake, when set, is read for the training data's manifest and the
	// model's metrics (any lake: file or S3).
	Lake lake.BucketReader
	// LakeDir is the local directory of the lake (file:// lakes only): the
	// recent recommendations are read from it, and the manifest and metrics
	// too when Lake is nil. Empty: no recent recommendations.
	LakeDir string
	// ModelVersion, when set, names the model version whose metrics to
	// show (the one being served); when it is nil or returns "", the
	// lake's latest version (ml-artifacts/LATEST) is shown.
	ModelVersion func() string
	// Metrics, when set, is the registry of the API's Prometheus metrics;
	// the page shows the requests answered per endpoint from it.
	Metrics prometheus.Gatherer
	// Stages records the state of the demo's stages; nil shows none.
	Stages *Stages
	// Live holds the stream's recent throughput and latency; nil shows none.
	Live *Live
	// Engine, when set, describes the serving engine (model and vector
	// store) as a JSON-encodable value, or returns an error.
	Engine func(ctx context.Context) (any, error)
	// ProductNames, when set, names the shop's products by code (e.g. from
	// the shop's database, for a generated catalog); the sample catalog's
	// names are used otherwise. It is called until it succeeds once.
	ProductNames func(ctx context.Context) (map[string]string, error)
}

// Path is where Register mounts the dashboard.
const Path = "/dashboard/"

// Register mounts the dashboard on mux at Path, with GET / and GET
// /dashboard redirecting to it and GET /favicon.ico serving its icon. Other
// paths stay free for the caller (e.g. "/" for the API).
func Register(mux *http.ServeMux, opts Options) {
	mux.Handle(Path, Handler(Path, opts))
	to := http.RedirectHandler(Path, http.StatusFound)
	mux.Handle("GET /{$}", to)
	mux.Handle("GET "+strings.TrimSuffix(Path, "/"), to)
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/x-icon")
		w.Header().Set("Cache-Control", "max-age=86400")
		http.ServeFileFS(w, r, assets, "assets/favicon.ico")
	})
}

// Handler returns the dashboard, to be mounted at prefix (e.g. "/dashboard/",
// with a trailing slash): the page at prefix, the data under prefix+"api/".
// Register also mounts the redirects from / and the site's icon.
func Handler(prefix string, opts Options) http.Handler {
	d := &dash{opts: opts}
	mux := http.NewServeMux()
	sub, _ := fs.Sub(assets, "assets")
	mux.Handle("GET "+prefix, http.StripPrefix(prefix, http.FileServerFS(sub)))
	mux.HandleFunc("GET "+prefix+"api/stages", d.stages)
	mux.HandleFunc("GET "+prefix+"api/live", d.live)
	mux.HandleFunc("GET "+prefix+"api/catalog", d.catalog)
	return mux
}

type dash struct {
	opts Options

	mu    sync.Mutex
	names map[string]string // from Options.ProductNames, once loaded
}

// productNames names products: the shop's names when Options.ProductNames
// gives them, else the sample catalog's.
func (d *dash) productNames(ctx context.Context) map[string]string {
	if d.opts.ProductNames == nil {
		return sampleNames()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.names == nil {
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		if m, err := d.opts.ProductNames(ctx); err == nil && len(m) > 0 {
			d.names = m
		} else {
			return sampleNames()
		}
	}
	return d.names
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(v)
}

// part is one panel's data, or the error that kept it from being read.
type part struct {
	Data  any    `json:"data,omitempty"`
	Error string `json:"error,omitempty"`
}

// maxObject bounds what the dashboard reads of one lake object.
const maxObject = 16 << 20

// read returns the lake object at key, from Options.Lake or else from
// Options.LakeDir.
func (d *dash) read(ctx context.Context, key string) ([]byte, error) {
	if d.opts.Lake == nil {
		return os.ReadFile(filepath.Join(d.opts.LakeDir, filepath.FromSlash(key)))
	}
	rc, err := d.opts.Lake.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxObject+1))
	if err == nil && len(b) > maxObject {
		err = fmt.Errorf("%s: larger than %d bytes", key, maxObject)
	}
	return b, err
}

// readJSON reads the lake object at key as JSON.
func (d *dash) readJSON(ctx context.Context, key string) part {
	b, err := d.read(ctx, key)
	if err != nil {
		return part{Error: err.Error()}
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return part{Error: key + ": " + err.Error()}
	}
	return part{Data: v}
}

// trainingDataset returns the lake dataset of model version v's training
// data: its dataset spec's (DatasetSpecFile, written for a spec other than
// the built-in one), else the lab's.
func (d *dash) trainingDataset(ctx context.Context, v string) string {
	if v == "" {
		return training.Dataset
	}
	b, err := d.read(ctx, model.Key(v, model.DatasetSpecFile))
	if err != nil {
		return training.Dataset
	}
	s, err := dataset.Parse(b, model.Key(v, model.DatasetSpecFile))
	if err != nil {
		return training.Dataset
	}
	return s.WithDefaults().Lake.Dataset
}

func (d *dash) stages(w http.ResponseWriter, r *http.Request) {
	out := map[string]any{}
	if d.opts.Stages != nil {
		out["stages"] = d.opts.Stages.List()
	}
	if d.opts.Lake != nil || d.opts.LakeDir != "" {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		v := ""
		if d.opts.ModelVersion != nil {
			v = d.opts.ModelVersion()
		}
		if model.CheckVersion(v) != nil { // none served: the latest
			latest, err := d.read(ctx, model.LatestKey)
			v = strings.TrimSpace(string(latest))
			if err != nil {
				out["model"], v = part{Error: err.Error()}, ""
			} else if err := model.CheckVersion(v); err != nil {
				out["model"], v = part{Error: model.LatestKey + ": " + err.Error()}, ""
			}
		}
		if v != "" {
			out["model"] = d.readJSON(ctx, model.Prefix+"/"+v+"/"+model.MetricsFile)
			out["model_version"] = v
		}
		out["training"] = d.readJSON(ctx, d.trainingDataset(ctx, v)+"/"+training.ManifestName)
		cancel()
	}
	if d.opts.Metrics != nil {
		a, err := apiFigures(d.opts.Metrics)
		if err != nil {
			out["api"] = part{Error: err.Error()}
		} else {
			out["api"] = part{Data: a}
		}
	}
	if d.opts.Engine != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		v, err := d.opts.Engine(ctx)
		cancel()
		if err != nil {
			out["engine"] = part{Error: err.Error()}
		} else {
			out["engine"] = part{Data: v}
		}
	}
	writeJSON(w, out)
}

func (d *dash) live(w http.ResponseWriter, r *http.Request) {
	out := map[string]any{}
	if d.opts.Live != nil {
		out["series"] = d.opts.Live.Series()
		out["total"] = d.opts.Live.Total()
	}
	if d.opts.LakeDir != "" {
		recs, obj, err := recentRecommendations(filepath.Join(d.opts.LakeDir, "recommendations"), 10, d.productNames(r.Context()))
		p := map[string]any{"object": obj, "records": recs}
		if err != nil {
			p["error"] = err.Error()
		}
		out["recent"] = p
	}
	writeJSON(w, out)
}

var sampleNames = sync.OnceValue(func() map[string]string {
	m := map[string]string{}
	ps, err := sample.Products()
	if err != nil {
		return m
	}
	for _, p := range ps {
		m[p.Code] = p.Name
	}
	return m
})

func (d *dash) catalog(w http.ResponseWriter, r *http.Request) {
	type product struct {
		Code string `json:"code"`
		Name string `json:"name"`
	}
	type shopper struct {
		Number      int     `json:"number"`
		Name        string  `json:"name"`
		City        string  `json:"city"`
		Country     string  `json:"country"`
		CreditLimit float64 `json:"creditlimit"`
	}
	out := map[string]any{}
	var ps []product
	for c, n := range d.productNames(r.Context()) {
		ps = append(ps, product{c, n})
	}
	slices.SortFunc(ps, func(a, b product) int { return strings.Compare(a.Code, b.Code) })
	out["products"] = ps
	cs, err := sample.Customers()
	if err != nil {
		out["error"] = err.Error()
	}
	var ss []shopper
	for _, c := range cs {
		ss = append(ss, shopper{c.Number, c.Name, c.City, strings.TrimSpace(c.Country), c.CreditLimit})
	}
	out["shoppers"] = ss
	writeJSON(w, out)
}

// Rec is one recent recommendation, product codes with their names.
type Rec struct {
	Customer    any       `json:"customer_number"`
	City        string    `json:"city"`
	Country     string    `json:"country"`
	Recommended []Product `json:"recommended"`
	SimilarTo   *Product  `json:"similar_to,omitempty"`
	Similar     []Product `json:"similar"`
}

// Product is a product code and, when the sample catalog knows it, its name.
type Product struct {
	Code string `json:"code"`
	Name string `json:"name,omitempty"`
}

// recentRecommendations reads the last n records of the newest object under
// dir, naming products with names.
func recentRecommendations(dir string, n int, names map[string]string) ([]Rec, string, error) {
	named := func(code string) Product { return Product{Code: code, Name: names[code]} }
	var newest string
	var newestT time.Time
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() || !strings.HasSuffix(p, ".json") || strings.HasPrefix(e.Name(), ".") || strings.HasPrefix(e.Name(), "_") {
			return nil
		}
		info, err := e.Info()
		if err != nil {
			return nil
		}
		if info.ModTime().After(newestT) || (info.ModTime().Equal(newestT) && p > newest) {
			newest, newestT = p, info.ModTime()
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", nil // none yet
	}
	if err != nil {
		return nil, "", err
	}
	if newest == "" {
		return nil, "", nil
	}
	f, err := os.Open(newest)
	if err != nil {
		return nil, newest, err
	}
	defer f.Close()
	type item struct {
		ID string `json:"id"`
	}
	type record struct {
		Customer    any    `json:"customer_number"`
		City        string `json:"city"`
		Country     string `json:"country"`
		Recommended []item `json:"recommended_items"`
		Similar     *struct {
			ProductCode  string `json:"product_code"`
			SimilarItems []item `json:"similar_items"`
		} `json:"similar_items"`
	}
	var recs []Rec
	dec := json.NewDecoder(bufio.NewReader(f))
	for {
		var r record
		if err := dec.Decode(&r); err != nil {
			break
		}
		rec := Rec{Customer: r.Customer, City: r.City, Country: r.Country}
		for _, it := range r.Recommended {
			rec.Recommended = append(rec.Recommended, named(it.ID))
		}
		if r.Similar != nil {
			p := named(r.Similar.ProductCode)
			rec.SimilarTo = &p
			for _, it := range r.Similar.SimilarItems {
				rec.Similar = append(rec.Similar, named(it.ID))
			}
		}
		recs = append(recs, rec)
		if len(recs) > n {
			recs = recs[1:]
		}
	}
	slices.Reverse(recs)
	rel, _ := filepath.Rel(filepath.Dir(dir), newest)
	return recs, rel, nil
}
