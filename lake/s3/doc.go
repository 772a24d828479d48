// Package s3 is the lake backend on AWS S3 and S3-compatible stores
// (VersityGW, MinIO, Ceph RGW, …), built on aws-sdk-go-v2.
//
// Open checks that the bucket can be reached before it returns:
//
//	b, err := s3.Open(ctx, s3.Config{
//		Bucket:    "recoflow",
//		Prefix:    "lake",
//		Endpoint:  "http://127.0.0.1:7070", // omit for AWS
//		PathStyle: true,
//	})
//	// err: s3 bucket recoflow at http://127.0.0.1:7070: connection refused
//
// Credentials and, unless Config says otherwise, the region and endpoint come
// from the SDK's standard chain: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY,
// AWS_PROFILE and the shared files, AWS_REGION, AWS_ENDPOINT_URL (or
// AWS_ENDPOINT_URL_S3), web identity, container and instance roles. Without
// any region the client uses us-east-1.
//
// # Keys and atomicity
//
// A key k is stored as the object Prefix/k. S3 itself makes every PUT and
// every completed multipart upload atomic; Put streams bodies of a part size
// or more as a multipart upload and aborts it on any error, so a failed Put
// leaves the previous object. An interrupted process can leave an incomplete
// upload behind, invisible to readers but billed: give the bucket a
// lifecycle rule that aborts incomplete multipart uploads after a day.
//
// The Bucket implements lake.Copier with CopyObject (objects up to 5 GiB)
// but not lake.Linker: S3 has no atomic rename, so datasets on S3 are
// published by writing their manifest last.
//
// # Leases
//
// Lease (lake.Leaser) creates .recoflow/leases/<name>.json with a
// conditional PUT (If-None-Match: *), renews it with If-Match on its ETag
// and takes over only an expired one. The store must honour conditional
// writes, as AWS S3 and VersityGW do.
package s3
