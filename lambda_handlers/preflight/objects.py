"""Does each object a request names exist? A missing one is named as missing, even behind a 403.

S3 answers ``HeadObject`` on a missing key with 404 only when the caller may list the
bucket (``s3:ListBucket``); without it the answer is 403 Forbidden, the same as for an
object that exists but may not be read (S3 API reference, HeadObject: "If you don't have
the s3:ListBucket permission, Amazon S3 returns an HTTP status code 403 Forbidden error";
``shared/bedrock-facts.md``). Both remedies are used. The validator is granted
``s3:ListBucket`` on the data bucket, limited by an ``s3:prefix`` condition to the data
prefixes; whether S3 counts a grant so limited when it chooses between 404 and 403 for a
HEAD request is not documented, so a 403 is not taken as an answer either way: it is
settled by listing the key itself (``ListObjectsV2`` with the key as prefix), which the
grant does allow. Listed: the object exists and cannot be read (a bucket policy, its KMS
key, its owner). Not listed: it is missing. Listing refused too (a bucket outside the
grant): the problem says both are possible, rather than guess.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from lambda_handlers.common.errors import error_code, translate_client_error
from lambda_handlers.common.request import split_s3_uri
from lambda_handlers.common.s3_objects import FORBIDDEN, NOT_FOUND


def object_problems(s3: Any, uris: list[tuple[str, str]]) -> list[str]:
    """One problem for each ``(field, s3Uri)`` whose object is missing or cannot be read."""
    problems = []
    for where, uri in uris:
        problem = _object_problem(s3, where, uri)
        if problem:
            problems.append(problem)
    return problems


def _object_problem(s3: Any, where: str, uri: str) -> str | None:
    bucket, key = split_s3_uri(uri)
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return None
    except ClientError as error:
        code = error_code(error)
        if code in NOT_FOUND:
            return f"{where}: no object at {uri}; upload the data first"
        if code not in FORBIDDEN:
            raise translate_client_error(error, f"HeadObject {uri}") from error
    return _settle_forbidden(s3, where, uri, bucket, key)


def _settle_forbidden(s3: Any, where: str, uri: str, bucket: str, key: str) -> str:
    """HeadObject said 403: list the key to tell a missing object from an unreadable one."""
    try:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1).get("Contents", [])
    except ClientError as error:
        if error_code(error) not in FORBIDDEN:
            raise translate_client_error(error, f"ListObjectsV2 {uri}") from error
        return (
            f"{where}: S3 answered 403 Forbidden for {uri} and would not list it either: the "
            "object is missing, or this stack may not read it (S3 does not say which to a "
            "caller that may not list the bucket); check that it exists and that the bucket "
            "policy lets this stack read it"
        )
    if listed and listed[0].get("Key") == key:
        return (
            f"{where}: {uri} exists but this stack may not read it (S3 answered 403 Forbidden); "
            "check the bucket policy, the object's KMS key and its owner"
        )
    return f"{where}: no object at {uri}; upload the data first"
