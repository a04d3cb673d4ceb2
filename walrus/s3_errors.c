/*
 * s3_errors.c - the one table of S3 error codes: AWS code, HTTP status and
 * the message S3 uses by default.  Handlers name an entry; a more precise
 * message may replace the default one.
 */
#include <string.h>

#include "walrus/s3_internal.h"

static const struct wal_s3_errdef s3_errors[WAL_S3E__COUNT] = {
    { WAL_S3E_ACCESS_DENIED, "AccessDenied", 403, "Access Denied" },
    { WAL_S3E_BAD_DIGEST, "BadDigest", 400,
      "The Content-MD5 you specified did not match what we received." },
    { WAL_S3E_BUCKET_ALREADY_EXISTS, "BucketAlreadyExists", 409,
      "The requested bucket name is not available. The bucket namespace is shared by all "
      "users of the system. Please select a different name and try again." },
    { WAL_S3E_BUCKET_ALREADY_OWNED, "BucketAlreadyOwnedByYou", 409,
      "Your previous request to create the named bucket succeeded and you already own it." },
    { WAL_S3E_BUCKET_NOT_EMPTY, "BucketNotEmpty", 409,
      "The bucket you tried to delete is not empty" },
    { WAL_S3E_ENTITY_TOO_LARGE, "EntityTooLarge", 400,
      "Your proposed upload exceeds the maximum allowed size" },
    { WAL_S3E_ENTITY_TOO_SMALL, "EntityTooSmall", 400,
      "Your proposed upload is smaller than the minimum allowed object size." },
    { WAL_S3E_INCOMPLETE_BODY, "IncompleteBody", 400,
      "You did not provide the number of bytes specified by the Content-Length HTTP header" },
    { WAL_S3E_INTERNAL, "InternalError", 500,
      "We encountered an internal error. Please try again." },
    { WAL_S3E_INVALID_ARGUMENT, "InvalidArgument", 400, "Invalid Argument" },
    { WAL_S3E_INVALID_BUCKET_NAME, "InvalidBucketName", 400,
      "The specified bucket is not valid." },
    { WAL_S3E_INVALID_DIGEST, "InvalidDigest", 400,
      "The Content-MD5 you specified was invalid." },
    { WAL_S3E_INVALID_PART, "InvalidPart", 400,
      "One or more of the specified parts could not be found.  The part may not have been "
      "uploaded, or the specified entity tag may not match the part's entity tag." },
    { WAL_S3E_INVALID_PART_ORDER, "InvalidPartOrder", 400,
      "The list of parts was not in ascending order. Parts list must be specified in order "
      "by part number." },
    { WAL_S3E_INVALID_RANGE, "InvalidRange", 416, "The requested range is not satisfiable" },
    { WAL_S3E_INVALID_REQUEST, "InvalidRequest", 400, "Invalid Request" },
    { WAL_S3E_INVALID_URI, "InvalidURI", 400, "Couldn't parse the specified URI." },
    { WAL_S3E_KEY_TOO_LONG, "KeyTooLongError", 400, "Your key is too long" },
    { WAL_S3E_MALFORMED_ACL, "MalformedACLError", 400,
      "The XML you provided was not well-formed or did not validate against our published "
      "schema" },
    { WAL_S3E_MALFORMED_XML, "MalformedXML", 400,
      "The XML you provided was not well-formed or did not validate against our published "
      "schema" },
    { WAL_S3E_MAX_MESSAGE_LENGTH, "MaxMessageLengthExceeded", 400,
      "Your request was too big." },
    { WAL_S3E_METADATA_TOO_LARGE, "MetadataTooLarge", 400,
      "Your metadata headers exceed the maximum allowed metadata size." },
    { WAL_S3E_METHOD_NOT_ALLOWED, "MethodNotAllowed", 405,
      "The specified method is not allowed against this resource." },
    { WAL_S3E_MISSING_CONTENT_LENGTH, "MissingContentLength", 411,
      "You must provide the Content-Length HTTP header." },
    { WAL_S3E_MISSING_BODY, "MissingRequestBodyError", 400, "Request Body is empty" },
    { WAL_S3E_NO_SUCH_BUCKET, "NoSuchBucket", 404, "The specified bucket does not exist" },
    { WAL_S3E_NO_SUCH_KEY, "NoSuchKey", 404, "The specified key does not exist." },
    { WAL_S3E_NO_SUCH_TAG_SET, "NoSuchTagSet", 404, "The TagSet does not exist" },
    { WAL_S3E_NO_SUCH_UPLOAD, "NoSuchUpload", 404,
      "The specified upload does not exist. The upload ID may be invalid, or the upload may "
      "have been aborted or completed." },
    { WAL_S3E_NO_SUCH_VERSION, "NoSuchVersion", 404,
      "The specified version does not exist." },
    { WAL_S3E_NOT_IMPLEMENTED, "NotImplemented", 501,
      "A header you provided implies functionality that is not implemented" },
    { WAL_S3E_PRECONDITION_FAILED, "PreconditionFailed", 412,
      "At least one of the pre-conditions you specified did not hold" },
    { WAL_S3E_SIGNATURE_MISMATCH, "SignatureDoesNotMatch", 403,
      "The request signature we calculated does not match the signature you provided. "
      "Check your key and signing method." },
    { WAL_S3E_SLOW_DOWN, "SlowDown", 503, "Please reduce your request rate." },
    { WAL_S3E_SHA256_MISMATCH, "XAmzContentSHA256Mismatch", 400,
      "The provided 'x-amz-content-sha256' header does not match what was computed." },
};

const struct wal_s3_errdef *wal_s3_error_def(enum wal_s3_error e)
{
    if ((unsigned)e >= WAL_S3E__COUNT)
        e = WAL_S3E_INTERNAL;
    return &s3_errors[e];
}

const struct wal_s3_errdef *wal_s3_error_find(const char *code)
{
    for (size_t i = 0; i < WAL_S3E__COUNT; i++)
        if (strcmp(s3_errors[i].code, code) == 0)
            return &s3_errors[i];
    return NULL;
}

int wal_s3_error_xml(const char *code, const char *message, const char *resource,
                     const char *request_id, struct oc_buf *out)
{
    struct oc_xmlw *w = oc_xmlw_new("Error", NULL);
    int rc;

    if (!w)
        return OC_ENOMEM;
    oc_xmlw_elem(w, "Code", code);
    oc_xmlw_elem(w, "Message", message);
    if (resource)
        oc_xmlw_elem(w, "Resource", resource);
    oc_xmlw_elem(w, "RequestId", request_id);
    rc = oc_xmlw_finish(w, out);
    oc_xmlw_free(w);
    return rc;
}
