package model

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// lossCurvePNG draws the validation NDCG@10 and Precision@10 per epoch of
// the validation run, with the kept epoch marked, as a PNG image.
func lossCurvePNG(epochs []EpochStats, best int) ([]byte, error) {
	p := plot.New()
	p.Title.Text = "recoflow hybrid two-tower model: validation ranking per epoch"
	p.X.Label.Text = "epoch"
	p.X.Tick.Marker = epochTicks{}
	p.Y.Label.Text = "on the validation ratings"
	p.Add(plotter.NewGrid())
	train := make(plotter.XYs, len(epochs))
	val := make(plotter.XYs, len(epochs))
	for i, e := range epochs {
		train[i] = plotter.XY{X: float64(e.Epoch), Y: e.ValidationPrecision}
		val[i] = plotter.XY{X: float64(e.Epoch), Y: e.ValidationNDCG}
	}
	lt, err := plotter.NewLine(train)
	if err != nil {
		return nil, fmt.Errorf("loss curve: %w", err)
	}
	lt.Color = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	lt.Width = vg.Points(1.5)
	lv, err := plotter.NewLine(val)
	if err != nil {
		return nil, fmt.Errorf("loss curve: %w", err)
	}
	lv.Color = color.RGBA{R: 255, G: 127, B: 14, A: 255}
	lv.Width = vg.Points(1.5)
	p.Add(lt, lv)
	p.Legend.Add("Precision@10", lt)
	p.Legend.Add("NDCG@10", lv)
	if best > 0 && best <= len(epochs) {
		e := epochs[best-1]
		s, err := plotter.NewScatter(plotter.XYs{{X: float64(e.Epoch), Y: e.ValidationNDCG}})
		if err != nil {
			return nil, fmt.Errorf("loss curve: %w", err)
		}
		s.GlyphStyle.Shape = draw.CircleGlyph{}
		s.GlyphStyle.Radius = vg.Points(4)
		s.GlyphStyle.Color = color.RGBA{R: 214, G: 39, B: 40, A: 255}
		p.Add(s)
		p.Legend.Add(fmt.Sprintf("kept (epoch %d)", best), s)
	}
	p.Legend.Top = true
	w, err := p.WriterTo(8*vg.Inch, 5*vg.Inch, "png")
	if err != nil {
		return nil, fmt.Errorf("loss curve: %w", err)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("loss curve: %w", err)
	}
	return buf.Bytes(), nil
}

// epochTicks labels whole epochs only, at most about ten of them.
type epochTicks struct{}

func (epochTicks) Ticks(lo, hi float64) []plot.Tick {
	first, last := int(math.Ceil(lo)), int(math.Floor(hi))
	step := max(1, (last-first+9)/10)
	var ticks []plot.Tick
	for e := first; e <= last; e++ {
		t := plot.Tick{Value: float64(e)}
		if (e-first)%step == 0 {
			t.Label = strconv.Itoa(e)
		}
		ticks = append(ticks, t)
	}
	return ticks
}
