package shopper

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/recoflow/recoflow/sample"
)

// Defaults of Config.
const (
	DefaultSessions        = 50
	DefaultNewShopperShare = 0.2
	DefaultMaxItems        = 6
	DefaultStringQuantity  = 0.5
)

// Config shapes the simulated traffic. The zero value means the defaults.
type Config struct {
	// Seed makes the traffic repeatable: the same Seed and Config give the
	// same events, in the same order.
	Seed uint64
	// Sessions is how many shoppers are browsing at once; their events
	// interleave. Default DefaultSessions.
	Sessions int
	// NewShopperShare is the fraction of sessions by shoppers the shop's
	// database has never seen (customer numbers from 10000 up, a city and
	// country of some real customer, a made-up credit limit). Default
	// DefaultNewShopperShare; a negative value means none.
	NewShopperShare float64
	// MaxItems bounds a session's browse history (1..MaxItems items, the
	// length drawn uniformly). Default DefaultMaxItems.
	MaxItems int
	// StringQuantityShare is the fraction of items whose quantity is sent
	// as a JSON string ("7") rather than a number (7), as the lab's stream
	// does both. Default DefaultStringQuantity; negative means none.
	StringQuantityShare float64
	// Products are the catalogue shoppers browse (Code and Line are used);
	// empty means the classicmodels sample's. Give the shop's own catalogue
	// when it is not the sample (a generated dataset), so that browsed
	// items exist in the model and the vector store.
	Products []sample.Product
	// Shop, when set, is another shop's users and items: the events are
	// written in its Format (a dataset spec's stream section) with its
	// users' ids and features and its items' ids, and Products is not used.
	// A new shopper (NewShopperShare) gets an id the shop does not have —
	// for integer ids, above the largest; for string ids, "new-" and hex
	// digits — and the features of one of the shop's users.
	Shop *Shop
}

func (c Config) withDefaults() (Config, error) {
	if c.Sessions == 0 {
		c.Sessions = DefaultSessions
	}
	if c.NewShopperShare == 0 {
		c.NewShopperShare = DefaultNewShopperShare
	}
	if c.MaxItems == 0 {
		c.MaxItems = DefaultMaxItems
	}
	if c.StringQuantityShare == 0 {
		c.StringQuantityShare = DefaultStringQuantity
	}
	c.NewShopperShare = max(c.NewShopperShare, 0)
	c.StringQuantityShare = max(c.StringQuantityShare, 0)
	switch {
	case c.Sessions < 1:
		return c, fmt.Errorf("shopper: %d sessions: want at least 1", c.Sessions)
	case c.NewShopperShare > 1:
		return c, fmt.Errorf("shopper: new-shopper share %g: want 0..1", c.NewShopperShare)
	case c.MaxItems < 1:
		return c, fmt.Errorf("shopper: at most %d items: want at least 1", c.MaxItems)
	case c.StringQuantityShare > 1:
		return c, fmt.Errorf("shopper: string-quantity share %g: want 0..1", c.StringQuantityShare)
	}
	return c, nil
}

// Event is one simulated record: the partition key (the session id) and
// the lab-format JSON object.
type Event struct {
	Key  string
	Data []byte
}

// Stats counts what a Simulator has produced.
type Stats struct {
	Events      int64
	Sessions    int64 // sessions started
	NewShoppers int64 // of which by shoppers the shop has never seen
	InCart      int64 // events whose history has at least one item in the cart
}

// Simulator generates shopper activity. It is not safe for concurrent use.
type Simulator struct {
	cfg       Config
	rng       *rand.Rand
	products  []sample.Product
	byLine    map[string][]int // product indexes by product line
	lines     []string
	customers []sample.Customer
	active    []*session
	stats     Stats

	shop    *Shop           // nil: the lab's shoppers and records
	userIDs map[string]bool // the shop's user ids (string ids)
	maxUser int64           // the largest integer user id
}

// session is one shopper's visit: a growing browse history, emitted whole
// with every event, ending after its step budget.
type session struct {
	id       string
	customer shopperInfo // the lab's shopper
	user     *User       // the shop's (Config.Shop)
	taste    string      // the product line this shopper mostly looks at
	length   int         // the most items its history will hold
	steps    int         // events left
	items    []item
}

type shopperInfo struct {
	number      int
	city        string
	country     string
	creditLimit float64
}

type item struct {
	code     string
	quantity int
	asString bool
	inCart   bool
}

// New returns a simulator drawing shoppers from the classicmodels sample
// (package sample) and products from Config.Products, by default the
// sample's.
func New(cfg Config) (*Simulator, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Simulator{
		cfg:    cfg,
		rng:    rand.New(rand.NewPCG(cfg.Seed, 0x5eed_5e55_1075_ca27)),
		byLine: map[string][]int{},
	}
	products := cfg.Products
	if cfg.Shop != nil {
		if products, err = s.useShop(cfg.Shop); err != nil {
			return nil, err
		}
	} else {
		if len(products) == 0 {
			if products, err = sample.Products(); err != nil {
				return nil, err
			}
		}
		if s.customers, err = sample.Customers(); err != nil {
			return nil, err
		}
	}
	s.products = products
	for i, p := range products {
		if _, ok := s.byLine[p.Line]; !ok {
			s.lines = append(s.lines, p.Line)
		}
		s.byLine[p.Line] = append(s.byLine[p.Line], i)
	}
	for range cfg.Sessions {
		s.active = append(s.active, s.newSession())
	}
	return s, nil
}

// Stats returns what has been produced so far.
func (s *Simulator) Stats() Stats { return s.stats }

// Next returns the next event: one step of a random active session — a new
// product browsed (the first step always is), or an item already browsed
// put into or taken out of the cart — with the session's whole browse
// history. A session that has used its steps is replaced by a new one.
func (s *Simulator) Next() Event {
	i := s.rng.IntN(len(s.active))
	se := s.active[i]
	if len(se.items) > 0 && (len(se.items) >= se.length || s.rng.Float64() < 0.25) {
		it := &se.items[s.rng.IntN(len(se.items))]
		it.inCart = !it.inCart
	} else {
		se.items = append(se.items, s.browse(se))
	}
	se.steps--
	ev := Event{Key: se.id, Data: s.encode(se)}
	s.stats.Events++
	for _, it := range se.items {
		if it.inCart {
			s.stats.InCart++
			break
		}
	}
	if se.steps == 0 {
		s.active[i] = s.newSession()
	}
	return ev
}

func (s *Simulator) newSession() *session {
	s.stats.Sessions++
	var b [16]byte
	for i := range 2 {
		v := s.rng.Uint64()
		for j := range 8 {
			b[i*8+j] = byte(v >> (8 * j))
		}
	}
	b[6] = b[6]&0x0f | 0x40 // a version 4 (random) UUID
	b[8] = b[8]&0x3f | 0x80
	se := &session{
		id:    fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]),
		taste: s.lines[s.rng.IntN(len(s.lines))],
	}
	se.length = 1 + s.rng.IntN(s.cfg.MaxItems)
	// Browse steps fill the history; cart changes take a few more.
	se.steps = se.length + s.rng.IntN(se.length+1)/2
	if s.shop != nil {
		s.shopUser(se)
		return se
	}
	if s.rng.Float64() < s.cfg.NewShopperShare {
		s.stats.NewShoppers++
		c := s.customers[s.rng.IntN(len(s.customers))]
		se.customer = shopperInfo{
			number:      10000 + s.rng.IntN(90000),
			city:        c.City,
			country:     c.Country,
			creditLimit: math.Round(s.rng.Float64()*1500) * 100,
		}
	} else {
		c := s.customers[s.rng.IntN(len(s.customers))]
		se.customer = shopperInfo{number: c.Number, city: c.City, country: c.Country, creditLimit: c.CreditLimit}
	}
	return se
}

// browse picks the next product a session looks at: mostly from its
// favourite product line, not one already in its history when avoidable.
func (s *Simulator) browse(se *session) item {
	var p sample.Product
	for try := 0; try < 5; try++ {
		if s.rng.Float64() < 0.7 {
			idx := s.byLine[se.taste]
			p = s.products[idx[s.rng.IntN(len(idx))]]
		} else {
			p = s.products[s.rng.IntN(len(s.products))]
		}
		seen := false
		for _, it := range se.items {
			seen = seen || it.code == p.Code
		}
		if !seen {
			break
		}
	}
	q := 1 + s.rng.IntN(3)
	if s.rng.Float64() < 0.2 {
		q += s.rng.IntN(8)
	}
	return item{code: p.Code, quantity: q, asString: s.rng.Float64() < s.cfg.StringQuantityShare, inCart: s.rng.Float64() < 0.35}
}

// The lab's record, fields in the lab's order.
type wireEvent struct {
	SessionID      string     `json:"session_id"`
	CustomerNumber int        `json:"customer_number"`
	City           string     `json:"city"`
	Country        string     `json:"country"`
	CreditLimit    float64    `json:"credit_limit"`
	BrowseHistory  []wireItem `json:"browse_history"`
}

type wireItem struct {
	ProductCode    string `json:"product_code"`
	Quantity       any    `json:"quantity"` // a string or a number
	InShoppingCart bool   `json:"in_shopping_cart"`
}

func (s *Simulator) encode(se *session) []byte {
	if s.shop != nil {
		return s.encodeShop(se)
	}
	w := wireEvent{
		SessionID:      se.id,
		CustomerNumber: se.customer.number,
		City:           se.customer.city,
		Country:        se.customer.country,
		CreditLimit:    se.customer.creditLimit,
		BrowseHistory:  make([]wireItem, len(se.items)),
	}
	for i, it := range se.items {
		var q any = it.quantity
		if it.asString {
			q = fmt.Sprint(it.quantity)
		}
		w.BrowseHistory[i] = wireItem{ProductCode: it.code, Quantity: q, InShoppingCart: it.inCart}
	}
	b, err := json.Marshal(w)
	if err != nil { // strings, numbers and booleans always marshal
		panic(err)
	}
	return b
}
