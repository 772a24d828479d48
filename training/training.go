// Package training holds the contract of the training dataset in the lake
// (DESIGN.md §4): where it lives, the columns and types of its Parquet files,
// and the manifest that commits each run.
//
// The ETL writes it (package etl); training reads it (Open). Keeping both
// sides on one definition is what keeps them compatible.
//
// A dataset written from any dataset spec — the built-in one included — is
// read with ReadTable, which hands the model a GenericRow per interaction:
// the user and item ids as text, the feedback as a float64, the optional
// time, and every feature and passthrough column by name as text, a
// number or null. That is the contract the model reads for any shop; the
// columns' order and Parquet types are set out in package etl's
// documentation and in docs/DATASET_SPEC.md. Row, Record and Read are the
// built-in dataset's typed view of the same files.
package training

import "time"

// Dataset is the lake prefix of the training dataset.
const Dataset = "ratings_ml_training"

// ManifestName is the object, under Dataset, that commits a run. Readers
// trust only the files it lists. Spark, Hive and Athena skip names that
// start with "_".
const ManifestName = "_manifest.json"

// PartitionColumn is the Hive partition key; it is not stored in the files.
const PartitionColumn = "customerNumber"

// Row is one rating joined with its product and customer, as stored in a
// Parquet file. The partition column customerNumber is not a field: it lives
// in the directory name. Decimal fields are unscaled (cents): 21000.00 is
// 2100000.
type Row struct {
	City            string  `parquet:"city"`
	State           *string `parquet:"state,optional"`
	PostalCode      *string `parquet:"postalCode,optional"`
	Country         string  `parquet:"country"`
	CreditLimit     int64   `parquet:"creditLimit,decimal(2:10)"`
	ProductCode     string  `parquet:"productCode"`
	ProductLine     string  `parquet:"productLine"`
	ProductScale    string  `parquet:"productScale"`
	QuantityInStock int32   `parquet:"quantityInStock"`
	BuyPrice        int64   `parquet:"buyPrice,decimal(2:10)"`
	MSRP            int64   `parquet:"MSRP,decimal(2:10)"`
	ProductRating   int32   `parquet:"productRating"`
}

// Columns lists the dataset's 13 columns in contract order, the partition
// column first.
var Columns = []string{
	"customerNumber", "city", "state", "postalCode", "country", "creditLimit",
	"productCode", "productLine", "productScale", "quantityInStock", "buyPrice",
	"MSRP", "productRating",
}

// Record is a Row with its partition value: one full row of the dataset as a
// reader sees it.
type Record struct {
	CustomerNumber int32
	Row
}

// Manifest describes one committed run of the ETL. It is written last; its
// presence is the commit.
type Manifest struct {
	RunID      string            `json:"run_id"`
	Source     string            `json:"source"`
	StartedAt  time.Time         `json:"started_at"`
	FinishedAt time.Time         `json:"finished_at"`
	Rows       int64             `json:"rows"`
	Rejected   int64             `json:"rejected"`
	Bytes      int64             `json:"bytes"`
	Schema     []Column          `json:"schema"`
	Partitions []Partition       `json:"partitions"`
	Timings    map[string]string `json:"timings,omitempty"`
	// Rejects is the lake key of the rejected rows of this run, if any.
	Rejects string `json:"rejects,omitempty"`
	// Catalog locates the run's export of every customer and product (see
	// ReadCatalog); nil for runs written before the catalogue existed, and
	// for datasets of a spec other than the built-in one.
	Catalog *CatalogFiles `json:"catalog,omitempty"`
	// Dataset is the lake prefix of the dataset (the spec's lake.dataset);
	// empty in manifests written before specs existed (Dataset).
	Dataset string `json:"dataset,omitempty"`
	// Spec and SpecHash name the dataset spec the run followed and its
	// hash (dataset.Hash); empty before specs existed.
	Spec     string `json:"spec,omitempty"`
	SpecHash string `json:"spec_hash,omitempty"`
	// PartitionColumn is the Hive partition column of a dataset written
	// from a spec; empty for the built-in dataset (PartitionColumn).
	PartitionColumn string `json:"partition_column,omitempty"`
}

// Column describes one column of the dataset schema.
type Column struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Nullable bool   `json:"nullable"`
	// Partition is true for the Hive partition column.
	Partition bool `json:"partition,omitempty"`
}

// Partition lists the files of one partition: one customerNumber of the
// built-in dataset, or one value of a spec's partition column.
type Partition struct {
	CustomerNumber int32  `json:"customerNumber"`
	Rows           int64  `json:"rows"`
	Files          []File `json:"files"`
	// Value is the partition column's value as text, and Dir the Hive
	// directory that holds it (PartitionDirOf), in a dataset written from
	// a spec other than the built-in one. Null is true for the partition
	// of NULL values (Dir is then <column>=__HIVE_DEFAULT_PARTITION__).
	Value string `json:"value,omitempty"`
	Dir   string `json:"dir,omitempty"`
	Null  bool   `json:"null,omitempty"`
}

// File is one Parquet file, its key relative to Dataset.
type File struct {
	Path  string `json:"path"`
	Rows  int64  `json:"rows"`
	Bytes int64  `json:"bytes"`
}

// Schema is the dataset's schema as recorded in manifests.
var Schema = []Column{
	{Name: "customerNumber", Type: "INT32", Partition: true},
	{Name: "city", Type: "STRING"},
	{Name: "state", Type: "STRING", Nullable: true},
	{Name: "postalCode", Type: "STRING", Nullable: true},
	{Name: "country", Type: "STRING"},
	{Name: "creditLimit", Type: "DECIMAL(10,2)"},
	{Name: "productCode", Type: "STRING"},
	{Name: "productLine", Type: "STRING"},
	{Name: "productScale", Type: "STRING"},
	{Name: "quantityInStock", Type: "INT32"},
	{Name: "buyPrice", Type: "DECIMAL(10,2)"},
	{Name: "MSRP", Type: "DECIMAL(10,2)"},
	{Name: "productRating", Type: "INT32"},
}
