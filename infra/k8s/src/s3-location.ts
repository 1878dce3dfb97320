/**
 * `s3://<bucket>/<prefix>`: where a model package lives in S3 when it is served from a volume instead of the
 * image. One parser (no imports, like names.ts) for the manifest generator's copy step (model-volume.ts) and the
 * CDK's read grant (cdk/lib/model-package-access.ts), so the prefix a pod copies from is exactly the prefix its
 * role may read.
 */

export interface S3Location {
  bucket: string;
  /** The package's folder inside the bucket, without leading or trailing `/` (never empty). */
  prefix: string;
  /** `s3://<bucket>/<prefix>/`: the folder form `aws s3 sync` copies from. */
  folderUri: string;
}

/** S3's bucket naming rules (3-63 characters, lower case, digits, dots, hyphens; letter or digit at both ends). */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * Refuses what would widen or blur the grant: no bucket-wide location (a prefix is required), no IAM wildcard
 * characters (`*`, `?`) or policy variables (`${`) in the prefix, no empty or `.`/`..` path segments.
 */
export function parseS3Location(uri: string, setting: string): S3Location {
  const match = /^s3:\/\/([^/]+)\/(.*)$/.exec(uri);
  const refuse = (why: string): never => {
    throw new Error(`${setting} must be s3://<bucket>/<prefix> (${why}): ${uri}`);
  };
  if (match === null) return refuse("no s3:// scheme or no bucket");
  const [, bucket = "", rawPrefix = ""] = match;
  if (!BUCKET.test(bucket)) refuse(`"${bucket}" is not an S3 bucket name`);
  const prefix = rawPrefix.replace(/\/+$/, "");
  if (prefix === "") refuse("a prefix is required: the grant never covers a whole bucket");
  if (/[*?]|\$\{/.test(prefix)) refuse("no wildcards or policy variables in the prefix");
  if (prefix.split("/").some((segment) => segment === "" || segment === "." || segment === "..")) {
    refuse("no empty, . or .. segments in the prefix");
  }
  return { bucket, prefix, folderUri: `s3://${bucket}/${prefix}/` };
}
