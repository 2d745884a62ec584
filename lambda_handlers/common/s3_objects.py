"""Reading an S3 object that may not be there.

S3 answers ``GetObject`` (or ``HeadObject``) on a missing key with 404 only to a caller that may
list the bucket; to one that may not, with 403. A 403 is therefore settled by listing the key
itself: listed, the object exists and may not be read (an error); not listed, it is missing.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from lambda_handlers.common.errors import error_code, translate_client_error

NOT_FOUND = frozenset({"404", "NoSuchKey", "NotFound"})
FORBIDDEN = frozenset({"403", "AccessDenied", "Forbidden"})


def read_object(s3: Any, bucket: str, key: str) -> bytes | None:
    """The object's bytes, or ``None`` when there is no such object."""
    uri = f"s3://{bucket}/{key}"
    try:
        return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError as error:
        code = error_code(error)
        if code in NOT_FOUND:
            return None
        if code not in FORBIDDEN or is_listed(s3, bucket, key):
            raise translate_client_error(error, f"GetObject {uri}") from error
        return None


def is_listed(s3: Any, bucket: str, key: str) -> bool:
    """Is ``key`` there, as listing it says? (Asked after a 403.)"""
    try:
        found = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1).get("Contents", [])
    except ClientError as error:
        raise translate_client_error(error, f"ListObjectsV2 s3://{bucket}/{key}") from error
    return bool(found) and found[0].get("Key") == key
