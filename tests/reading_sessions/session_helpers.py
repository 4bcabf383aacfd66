"""What the session socket tests share: a length annotation's fields, a joined client."""

from __future__ import annotations


def length_annotation(sop_uid):
    return {
        "sop_instance_uid": sop_uid,
        "tool": "length",
        "geometry": {"points": [[1, 1], [9, 9]]},
        "label": "L1",
    }


async def join_session(ws, user, session, after=None):
    client = ws(user, session, after)
    connected, _ = await client.connect()
    assert connected
    return client
