package shopper

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/recoflow/recoflow/dataset"
	"github.com/recoflow/recoflow/event"
	"github.com/recoflow/recoflow/internal/jsonout"
	"github.com/recoflow/recoflow/sample"
	"github.com/recoflow/recoflow/source"
)

// Format is the event format of a dataset spec: the field names of its
// stream section (the defaults when it has none) and the types of its ids
// and user features. FormatOf builds one.
type Format struct {
	// Session is the field with the session id; "" when the spec maps
	// none (the session id is then only the partition key).
	Session string
	// UserID is the field with the user's id; UserIDInteger says the id is
	// written as a JSON number rather than a string.
	UserID        string
	UserIDInteger bool
	// UserFeatures are the user features the events carry, in the spec's
	// order (the order of event.Mapping.UserFeatures).
	UserFeatures []FeatureField
	// BrowsedItems is the field with the list of browsed items.
	BrowsedItems string
	// ItemID is a browsed item's id field; ItemIDInteger as UserIDInteger.
	ItemID        string
	ItemIDInteger bool
	// Quantity and InCart are a browsed item's quantity and in-cart
	// fields; "" when the spec maps none (the field is then left out).
	Quantity string
	InCart   string
}

// FeatureField is a user feature an event carries.
type FeatureField struct {
	Name    string // the feature's name in the spec
	Column  string // its column in the users' table
	Field   string // the event field
	Numeric bool   // a numeric feature: a JSON number; otherwise a string
}

// FormatOf returns the event format of spec s (valid: dataset.Spec.Validate):
// the fields its stream section maps, as event.NewMapping reads them. An
// error names the spec key at fault.
func FormatOf(s *dataset.Spec) (Format, error) {
	if _, err := event.NewMapping(s); err != nil {
		return Format{}, err
	}
	d := s.WithDefaults()
	st := d.Stream
	f := Format{
		Session:       st.Session,
		UserID:        st.UserID,
		UserIDInteger: d.Users.IDType == dataset.IDInteger,
		BrowsedItems:  st.BrowsedItems,
		ItemID:        st.ItemID,
		ItemIDInteger: d.Items.IDType == dataset.IDInteger,
		Quantity:      st.Quantity,
		InCart:        st.InCart,
	}
	for _, uf := range d.Users.Features {
		field, ok := st.UserFeatures[uf.FeatureName()]
		if !ok {
			continue
		}
		f.UserFeatures = append(f.UserFeatures, FeatureField{Name: uf.FeatureName(), Column: uf.Column, Field: field,
			Numeric: uf.Kind == dataset.KindNumeric})
	}
	return f, nil
}

// Shop is a shop's own users and items, for a Simulator that writes events
// in a dataset spec's format (Config.Shop). ReadShop reads one from the
// shop's database.
type Shop struct {
	Format Format
	// Users are the shoppers the shop knows; a session of a known shopper
	// carries its id and features.
	Users []User
	// Items are what shoppers browse.
	Items []Item
}

// User is one of the shop's users.
type User struct {
	// ID is the user's id: for an integer id, its decimal digits.
	ID string
	// Features holds the values of Format.UserFeatures, in that order.
	Features []Value
}

// Value is a user feature's value: Number for a numeric feature, Text
// otherwise.
type Value struct {
	Number float64
	Text   string
}

// Item is one of the shop's items.
type Item struct {
	// ID is the item's id: for an integer id, its decimal digits.
	ID string
	// Group is the category the item belongs to, if any: a shopper mostly
	// browses one group, as the lab's shoppers keep to a product line.
	Group string
}

// ShopStats says what ReadShop read and what it left out.
type ShopStats struct {
	Users, Items int // read and kept
	// SkippedUsers are users whose row the events cannot carry (a null or
	// negative numeric feature, a null id); SkippedItems likewise.
	SkippedUsers, SkippedItems int
	// GroupFeature is the item feature the items are grouped by, "" for
	// none.
	GroupFeature string
}

// ReadShop reads the users and items of spec s (valid) from db: the users'
// ids and the user features the stream section maps, the items' ids and
// their first categorical feature (the browsing groups). It checks s
// against db first (dataset.Check), so a missing table or column fails
// naming the spec's key before a row is read. A user whose mapped feature
// cannot be written in an event — a null or negative number, which the
// stream refuses — is left out; when no user (or no item) is left, the
// error names the key.
func ReadShop(ctx context.Context, db *source.DB, s *dataset.Spec) (*Shop, ShopStats, error) {
	var st ShopStats
	f, err := FormatOf(s)
	if err != nil {
		return nil, st, err
	}
	if err := dataset.Check(ctx, db, s); err != nil {
		return nil, st, err
	}
	shop := &Shop{Format: f}
	d := s.WithDefaults()

	cols := []string{d.Users.ID}
	for _, uf := range f.UserFeatures {
		cols = append(cols, uf.Column)
	}
	var firstKey, firstSkip string // the first row left out: the key at fault and why
	err = scanTable(ctx, db, d.Users.Table, cols, func(vals []any) error {
		u := User{Features: make([]Value, len(f.UserFeatures))}
		var why string
		key := "users.id"
		u.ID, why = idText(vals[0], f.UserIDInteger)
		if why != "" {
			why = fmt.Sprintf("column %q of table %q holds %s", d.Users.ID, d.Users.Table, why)
		}
		for i, uf := range f.UserFeatures {
			if why != "" {
				break
			}
			v := vals[i+1]
			if uf.Numeric {
				u.Features[i].Number, why = number(v)
				if why != "" {
					key = "stream.user_features." + uf.Name
					why = fmt.Sprintf("column %q of table %q is %s for user %s", uf.Column, d.Users.Table, why, u.ID)
				}
			} else {
				u.Features[i].Text = text(v)
			}
		}
		if why != "" {
			if firstSkip == "" {
				firstKey, firstSkip = key, why
			}
			st.SkippedUsers++
			return nil
		}
		shop.Users = append(shop.Users, u)
		return nil
	})
	if err != nil {
		return nil, st, err
	}
	st.Users = len(shop.Users)
	if len(shop.Users) == 0 {
		if firstSkip != "" {
			return nil, st, fmt.Errorf("%s: none of the %d users can be written in an event; the first: %s", firstKey, st.SkippedUsers, firstSkip)
		}
		return nil, st, fmt.Errorf("users.table %q: no users to simulate", d.Users.Table)
	}

	cols = []string{d.Items.ID}
	var group *dataset.Feature
	for i, itf := range d.Items.Features {
		if itf.Kind == dataset.KindCategorical || itf.Kind == dataset.KindMultiCategorical {
			group = &d.Items.Features[i]
			cols = append(cols, itf.Column)
			st.GroupFeature = itf.FeatureName()
			break
		}
	}
	firstSkip = ""
	err = scanTable(ctx, db, d.Items.Table, cols, func(vals []any) error {
		id, why := idText(vals[0], f.ItemIDInteger)
		if why != "" {
			if firstSkip == "" {
				firstSkip = fmt.Sprintf("column %q of table %q holds %s", d.Items.ID, d.Items.Table, why)
			}
			st.SkippedItems++
			return nil
		}
		it := Item{ID: id}
		if group != nil {
			it.Group = strings.TrimSpace(text(vals[1]))
			if group.Kind == dataset.KindMultiCategorical {
				it.Group, _, _ = strings.Cut(it.Group, group.Delimiter)
				it.Group = strings.TrimSpace(it.Group)
			}
		}
		shop.Items = append(shop.Items, it)
		return nil
	})
	if err != nil {
		return nil, st, err
	}
	st.Items = len(shop.Items)
	if len(shop.Items) == 0 {
		if firstSkip != "" {
			return nil, st, fmt.Errorf("items.id: none of the %d items can be written in an event; the first: %s", st.SkippedItems, firstSkip)
		}
		return nil, st, fmt.Errorf("items.table %q: no items to browse", d.Items.Table)
	}
	return shop, st, nil
}

// scanTable calls row for each row of table's columns cols, in the order
// of the first column.
func scanTable(ctx context.Context, db *source.DB, table string, cols []string, row func([]any) error) error {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = db.Quote(c)
	}
	query := fmt.Sprintf("SELECT %s FROM %s ORDER BY %s", strings.Join(q, ", "), db.Quote(table), q[0])
	rows, err := db.SQL.QueryContext(ctx, query)
	if err != nil {
		return fmt.Errorf("read table %q from %s: %w", table, db, err)
	}
	defer rows.Close()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("read table %q from %s: %w", table, db, err)
		}
		if err := row(vals); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read table %q from %s: %w", table, db, err)
	}
	return nil
}

// idText returns an id as the events write it, or why it cannot be one.
func idText(v any, integer bool) (id, why string) {
	if v == nil {
		return "", "a null id"
	}
	s := text(v)
	if !integer {
		if s == "" {
			return "", "an empty id"
		}
		return s, ""
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 {
		return "", fmt.Sprintf("id %q is not a non-negative whole number", s)
	}
	return strconv.FormatInt(n, 10), ""
}

// number returns a numeric feature's value, or why the events cannot carry
// it (the stream wants a non-negative number).
func number(v any) (float64, string) {
	var x float64
	switch v := v.(type) {
	case nil:
		return 0, "null"
	case int64:
		x = float64(v)
	case float64:
		x = v
	case float32:
		x = float64(v)
	default:
		var err error
		if x, err = strconv.ParseFloat(strings.TrimSpace(text(v)), 64); err != nil {
			return 0, fmt.Sprintf("%q, not a number", text(v))
		}
	}
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0):
		return 0, fmt.Sprintf("%g, not a finite number", x)
	case x < 0:
		return 0, fmt.Sprintf("%g, negative (the stream wants a non-negative number)", x)
	}
	return x, ""
}

// text returns a column value as text; a null is "".
func text(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case []byte:
		return string(v)
	case string:
		return v
	case time.Time:
		return v.Format(time.RFC3339)
	default:
		return fmt.Sprint(v)
	}
}

// encodeShop writes a session's event in the shop's format: session, user
// id, user features, browsed items, in that order.
func (s *Simulator) encodeShop(se *session) []byte {
	f := &s.shop.Format
	b := make([]byte, 0, 128+48*len(se.items))
	b = append(b, '{')
	field := func(name string) {
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = jsonout.AppendString(b, name)
		b = append(b, ':')
	}
	id := func(v string, integer bool) {
		if integer {
			b = append(b, v...)
		} else {
			b = jsonout.AppendString(b, v)
		}
	}
	if f.Session != "" {
		field(f.Session)
		b = jsonout.AppendString(b, se.id)
	}
	u := se.user
	field(f.UserID)
	id(u.ID, f.UserIDInteger)
	for i, uf := range f.UserFeatures {
		field(uf.Field)
		if uf.Numeric {
			b = strconv.AppendFloat(b, u.Features[i].Number, 'g', -1, 64)
		} else {
			b = jsonout.AppendString(b, u.Features[i].Text)
		}
	}
	field(f.BrowsedItems)
	b = append(b, '[')
	for i, it := range se.items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		b = jsonout.AppendString(b, f.ItemID)
		b = append(b, ':')
		id(it.code, f.ItemIDInteger)
		if f.Quantity != "" {
			b = append(b, ',')
			b = jsonout.AppendString(b, f.Quantity)
			b = append(b, ':')
			if it.asString {
				b = append(b, '"')
				b = strconv.AppendInt(b, int64(it.quantity), 10)
				b = append(b, '"')
			} else {
				b = strconv.AppendInt(b, int64(it.quantity), 10)
			}
		}
		if f.InCart != "" {
			b = append(b, ',')
			b = jsonout.AppendString(b, f.InCart)
			b = append(b, ':')
			b = strconv.AppendBool(b, it.inCart)
		}
		b = append(b, '}')
	}
	return append(b, ']', '}')
}

// newShopperIDs is how many integer ids above the shop's largest a new
// shopper's id is drawn from (the lab's new shoppers are numbered from
// 10000 up, 90000 numbers).
const newShopperIDs = 90000

// useShop makes s simulate shop's shoppers, returning its items as the
// catalogue (Code: the id, Line: the group).
func (s *Simulator) useShop(shop *Shop) ([]sample.Product, error) {
	f := &shop.Format
	switch {
	case f.UserID == "" || f.BrowsedItems == "" || f.ItemID == "":
		return nil, fmt.Errorf("shopper: the shop's format maps no user id, browsed items or item id field")
	case len(shop.Users) == 0:
		return nil, fmt.Errorf("shopper: the shop has no users")
	case len(shop.Items) == 0:
		return nil, fmt.Errorf("shopper: the shop has no items")
	}
	s.shop = shop
	s.userIDs = make(map[string]bool, len(shop.Users))
	for i, u := range shop.Users {
		if len(u.Features) != len(f.UserFeatures) {
			return nil, fmt.Errorf("shopper: user %d (%s): %d feature values for %d features", i, u.ID, len(u.Features), len(f.UserFeatures))
		}
		if f.UserIDInteger {
			n, err := strconv.ParseInt(u.ID, 10, 64)
			if err != nil || n < 0 || strconv.FormatInt(n, 10) != u.ID {
				return nil, fmt.Errorf("shopper: user %d: id %q is not a non-negative integer's digits", i, u.ID)
			}
			s.maxUser = max(s.maxUser, n)
		} else {
			s.userIDs[u.ID] = true
		}
	}
	if f.UserIDInteger && s.cfg.NewShopperShare > 0 && s.maxUser > math.MaxInt64-newShopperIDs {
		return nil, fmt.Errorf("shopper: user id %d leaves no room for new shoppers' ids; give no new shoppers", s.maxUser)
	}
	products := make([]sample.Product, len(shop.Items))
	for i, it := range shop.Items {
		if f.ItemIDInteger {
			n, err := strconv.ParseInt(it.ID, 10, 64)
			if err != nil || n < 0 || strconv.FormatInt(n, 10) != it.ID {
				return nil, fmt.Errorf("shopper: item %d: id %q is not a non-negative integer's digits", i, it.ID)
			}
		} else if it.ID == "" {
			return nil, fmt.Errorf("shopper: item %d: empty id", i)
		}
		products[i] = sample.Product{Code: it.ID, Line: it.Group}
	}
	return products, nil
}

// shopUser gives a new session one of the shop's users or, for a share of
// sessions, a shopper the shop has never seen with the features of one of
// its users.
func (s *Simulator) shopUser(se *session) {
	users := s.shop.Users
	if s.rng.Float64() >= s.cfg.NewShopperShare {
		se.user = &users[s.rng.IntN(len(users))]
		return
	}
	s.stats.NewShoppers++
	like := users[s.rng.IntN(len(users))]
	u := &User{Features: like.Features}
	if s.shop.Format.UserIDInteger {
		u.ID = strconv.FormatInt(s.maxUser+1+s.rng.Int64N(newShopperIDs), 10)
	} else {
		for u.ID == "" || s.userIDs[u.ID] {
			u.ID = fmt.Sprintf("new-%012x", s.rng.Uint64()>>16)
		}
	}
	se.user = u
}
