package dataset

// Spec declares a shop's dataset: where the interactions, users and items
// are in the source database, which column carries the feedback, how each
// feature column is encoded, where the training data goes in the lake, and
// how the fields of a stream event map onto users and items. The YAML keys
// are the yaml tags; DATASET_SPEC.md in docs/ is the reference.
type Spec struct {
	// Version is the spec format's version; only 1 exists.
	Version int `yaml:"version"`
	// Name names the dataset in messages and artifacts.
	Name         string       `yaml:"name"`
	Interactions Interactions `yaml:"interactions"`
	Users        Entity       `yaml:"users"`
	Items        Entity       `yaml:"items"`
	Lake         Lake         `yaml:"lake,omitempty"`
	Stream       *Stream      `yaml:"stream,omitempty"`

	// origin is where Parse read the spec, for messages; nil for a spec
	// built in code.
	origin *origin
}

// Interactions is the table (or query) with one row per user-item
// interaction: a rating, a purchase, a click.
type Interactions struct {
	// Table is the interactions table; exactly one of Table and Query.
	Table string `yaml:"table,omitempty"`
	// Query is a SELECT returning the interactions, for data that no single
	// table holds. It is the operator's own SQL, run as a subquery.
	Query string `yaml:"query,omitempty"`
	// UserKey is the column holding the user's id (joined to Users.ID).
	UserKey string `yaml:"user_key"`
	// ItemKey is the column holding the item's id (joined to Items.ID).
	ItemKey  string   `yaml:"item_key"`
	Feedback Feedback `yaml:"feedback"`
	// Timestamp is an optional column with the interaction's time (a date
	// or time type, or an integer of Unix seconds).
	Timestamp string `yaml:"timestamp,omitempty"`
}

// Feedback kinds.
const (
	FeedbackExplicit = "explicit" // a rating on a scale
	FeedbackCount    = "count"    // implicit: each row counts once (no column needed)
	FeedbackQuantity = "quantity" // implicit: a numeric column (pieces bought, plays)
	FeedbackWeight   = "weight"   // implicit: an event-type column, each type weighted
)

// FeedbackKinds lists the feedback kinds.
var FeedbackKinds = []string{FeedbackExplicit, FeedbackCount, FeedbackQuantity, FeedbackWeight}

// Feedback says what an interaction's strength is.
type Feedback struct {
	// Kind is one of FeedbackKinds.
	Kind string `yaml:"kind"`
	// Column holds the value: the rating (explicit), the quantity, or the
	// event type (weight). A count needs none.
	Column string `yaml:"column,omitempty"`
	// Scale is the rating scale of explicit feedback.
	Scale *Scale `yaml:"scale,omitempty"`
	// Weights maps each event type to its weight (kind weight).
	Weights map[string]float64 `yaml:"weights,omitempty"`
}

// Scale is an explicit rating's range, both ends included.
type Scale struct {
	Min float64 `yaml:"min"`
	Max float64 `yaml:"max"`
}

// ID types: how an entity's id is typed in the lake, the vector store and the
// API.
const (
	IDString  = "string"
	IDInteger = "integer"
)

// IDTypes lists the id types.
var IDTypes = []string{IDString, IDInteger}

// Entity is the users' or the items' table.
type Entity struct {
	Table string `yaml:"table"`
	// ID is the id column (the key the interactions join on).
	ID string `yaml:"id"`
	// IDType is IDString or IDInteger.
	IDType   string    `yaml:"id_type"`
	Features []Feature `yaml:"features,omitempty"`
	// Passthrough lists columns copied into the training data as they are,
	// not encoded (the lab keeps a customer's state and postal code).
	Passthrough []string `yaml:"passthrough,omitempty"`
}

// Feature kinds.
const (
	KindCategorical      = "categorical"       // one category per row, one-hot encoded
	KindMultiCategorical = "multi_categorical" // several categories in one delimited value ("Action|Comedy")
	KindNumeric          = "numeric"           // a number, scaled
	KindText             = "text"              // free text, as a bag of tokens
)

// Kinds lists the feature kinds.
var Kinds = []string{KindCategorical, KindMultiCategorical, KindNumeric, KindText}

// Overflow policies of a categorical feature with more categories than its
// cap.
const (
	OverflowOther = "other" // the rarest categories all become one "other" category
	OverflowHash  = "hash"  // the rest are hashed into MaxCategories buckets
)

// Overflows lists the overflow policies.
var Overflows = []string{OverflowOther, OverflowHash}

// Scalings of a numeric feature.
const (
	ScalingStandard = "standard" // (x - mean) / standard deviation
	ScalingLog      = "log"      // log(1 + x), then standard; x must not be negative
)

// Scalings lists the numeric scalings.
var Scalings = []string{ScalingStandard, ScalingLog}

// Defaults of optional feature settings.
const (
	DefaultDelimiter = "|"
	DefaultMaxTokens = 10000
)

// Feature is one encoded column of the users' or items' table.
type Feature struct {
	Column string `yaml:"column"`
	// Name is the feature's name in the training data, the API and the
	// model's encoders; the column's name by default.
	Name string `yaml:"name,omitempty"`
	// Kind is one of Kinds.
	Kind string `yaml:"kind"`
	// MaxCategories caps the categories kept (categorical and
	// multi_categorical); 0 keeps every category.
	MaxCategories int `yaml:"max_categories,omitempty"`
	// Overflow says what becomes of the categories past the cap: one of
	// Overflows, OverflowOther by default.
	Overflow string `yaml:"overflow,omitempty"`
	// Delimiter separates the categories of a multi_categorical value;
	// DefaultDelimiter by default.
	Delimiter string `yaml:"delimiter,omitempty"`
	// Scaling is a numeric feature's scaling: one of Scalings,
	// ScalingStandard by default.
	Scaling string `yaml:"scaling,omitempty"`
	// MaxTokens caps a text feature's vocabulary (the most frequent
	// tokens); DefaultMaxTokens by default.
	MaxTokens int `yaml:"max_tokens,omitempty"`
}

// FeatureName returns f's name in the training data: Name, or Column.
func (f Feature) FeatureName() string {
	if f.Name != "" {
		return f.Name
	}
	return f.Column
}

// Lake says where the training data goes.
type Lake struct {
	// Dataset is the lake prefix of the training data; the interactions
	// table's name plus "_ml_training" by default.
	Dataset string `yaml:"dataset,omitempty"`
	// Partition is the Hive partition column (not stored in the files):
	// the users' id column by default.
	Partition string `yaml:"partition,omitempty"`
}

// Stream maps the fields of a stream event (a JSON object) onto the spec's
// users and items. The lab's event format is Classic().Stream.
type Stream struct {
	// Session is the field with the session id.
	Session string `yaml:"session"`
	// UserID is the field with the user's id.
	UserID string `yaml:"user_id"`
	// UserFeatures maps a user feature's name to the event field that
	// carries it, for shoppers the database has never seen.
	UserFeatures map[string]string `yaml:"user_features,omitempty"`
	// BrowsedItems is the field with the list of browsed items, oldest
	// first.
	BrowsedItems string `yaml:"browsed_items"`
	// ItemID is the field, in each browsed item, with the item's id.
	ItemID string `yaml:"item_id"`
	// Quantity is the field, in each browsed item, with its quantity
	// (optional).
	Quantity string `yaml:"quantity,omitempty"`
	// InCart is the field, in each browsed item, saying whether it is in
	// the shopping cart (optional).
	InCart string `yaml:"in_cart,omitempty"`
}
