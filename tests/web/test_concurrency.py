"""Concurrency over real HTTP (uvicorn on 127.0.0.1, SQLite file): racing reviewers on one
garment, and many parallel requests without "database is locked"."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from .conftest import Server, http_session


def _version(c: httpx.Client, gid: int) -> str:
    return c.get(f"/garments/{gid}").text.split('name="version" value="')[1].split('"')[0]


def test_two_sessions_race_on_one_garment_one_wins_other_sees_conflict(app):
    server = Server(app)
    try:
        mina, joon = http_session(server.url, "mina"), http_session(server.url, "joon")
        for gid in range(1, 6):
            versions = {"mina": _version(mina, gid), "joon": _version(joon, gid)}

            def go(who: str, client: httpx.Client, value: str) -> int:
                return client.post(f"/garments/{gid}/review", data={
                    "version": versions[who], "action": "correct", "head": "colour", "value": value,
                    "mode": "page"}).status_code

            with ThreadPoolExecutor(2) as pool:
                codes = sorted(pool.map(lambda a: go(*a), [("mina", mina, "red"), ("joon", joon, "blue")]))
            assert codes == [200, 409]
            g = app.state.store.garment(gid)
            assert len(g.history) == 1 and g.heads["colour"].value == {"mina": "red", "joon": "blue"}[g.history[0].username]
    finally:
        server.stop()


def test_many_parallel_requests_on_sqlite_never_fail(app):
    server = Server(app)
    try:
        clients = [http_session(server.url, name) for name in ("mina", "joon", "ada")]
        ids = [g.id for g in app.state.store.gallery(limit=30).items]

        def work(i: int) -> list[int]:
            c = clients[i % len(clients)]
            gid = ids[i % len(ids)]
            codes = [c.get("/gallery?sort=confidence").status_code, c.get("/queue").status_code]
            for _ in range(3):  # retry on conflict like a person would, with the fresh version
                r = c.post(f"/garments/{gid}/review", data={"version": _version(c, gid), "action": "correct",
                                                            "head": "colour", "value": ["red", "blue"][i % 2],
                                                            "mode": "page"})
                if r.status_code != 409:
                    break
            codes.append(r.status_code)
            codes.append(c.get("/dashboard").status_code)
            return codes

        with ThreadPoolExecutor(12) as pool:
            results = list(pool.map(work, range(60)))
        flat = [code for codes in results for code in codes]
        assert set(flat) <= {200, 409} and flat.count(200) >= len(flat) - 5
        assert sum(len(app.state.store.history(gid)) for gid in ids) == sum(codes[2] == 200 for codes in results)
    finally:
        server.stop()
