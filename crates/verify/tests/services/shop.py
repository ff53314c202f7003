"""A small shop API that crates/verify/tests/real_services.rs runs behind a real nginx.

Standard library only: http.server for HTTP, the logging module for its log
(`%(asctime)s %(levelname)s %(name)s: %(message)s`, one line per request, warnings, and
`logger.exception` tracebacks). `--faults RATE` makes it a bad release: that fraction of order
requests hits one of two bugs, each its own code path and traceback:

- an order line whose SKU is not in the catalogue: `KeyError` from `unit_price`;
- a malformed coupon: `ValueError` from `int()`, re-raised as `PricingError` (a chained
  traceback: "The above exception was the direct cause of the following exception").

A failed request answers 500 with `{"error": "<exception class>"}`, so the test counts them.
On start it prints the port it listens on (`--port 0`: any free port) to stdout.
"""

import argparse
import json
import logging
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger("shop.api")
pricing_log = logging.getLogger("shop.pricing")
access_log = logging.getLogger("shop.access")

CATALOGUE = {f"sku-{i}": {"price": 100 + 7 * i, "stock": i % 5} for i in range(50)}
LAST_PAGE = 8


class PricingError(Exception):
    pass


def unit_price(sku):
    return CATALOGUE[sku]["price"]


def coupon_percent(code):
    return int(code.split("-", 1)[1])


def apply_coupon(total, code):
    try:
        percent = coupon_percent(code)
    except ValueError as e:
        raise PricingError(f"coupon {code!r} unreadable") from e
    return total - total * percent / 100


class Shop:
    def __init__(self, faults, seed):
        self.faults = faults
        self.rng = random.Random(seed)
        self.lock = threading.Lock()

    def draw(self):
        with self.lock:
            return self.rng.random()

    def order(self, order_id):
        items = [f"sku-{(order_id * 7 + k) % 50}" for k in range(1 + order_id % 3)]
        coupon = f"SAVE-{5 + order_id % 10}" if order_id % 4 == 0 else None
        if self.faults > 0:
            r = self.draw()
            if r < self.faults / 2:
                items.append(f"sku-{9000 + order_id}")
            elif r < self.faults:
                coupon = f"SAVE-X{order_id}"
        total = sum(unit_price(sku) for sku in items)
        if coupon:
            total = apply_coupon(total, coupon)
            pricing_log.info("coupon %s applied to order %d", coupon, order_id)
        if order_id % 37 == 0:
            log.warning("order %d took %d ms to price (budget 50 ms)", order_id, 60 + order_id % 40)
        log.info("order %d priced: %d items, total %.2f", order_id, len(items), total)
        return {"order": order_id, "items": items, "total": total}

    def catalogue(self, page):
        if page > LAST_PAGE:
            log.warning("catalogue page %d requested, the last page is %d", page, LAST_PAGE)
            return 404, {"error": "no such page"}
        skus = sorted(CATALOGUE)[(page - 1) * 6 : page * 6]
        log.info("catalogue page %d served (%d items)", page, len(skus))
        return 200, {"page": page, "items": skus}


class Handler(BaseHTTPRequestHandler):
    server_version = "shop/1.0"

    def do_GET(self):
        shop = self.server.shop
        url = urlsplit(self.path)
        try:
            if url.path == "/health":
                status, body = 200, {"ok": True}
            elif url.path.startswith("/orders/"):
                status, body = 200, shop.order(int(url.path[len("/orders/") :]))
            elif url.path == "/catalogue":
                page = int(parse_qs(url.query).get("page", ["1"])[0])
                status, body = shop.catalogue(page)
            else:
                status, body = 404, {"error": "not found"}
        except Exception as e:
            log.exception("unhandled error on %s %s", self.command, self.path)
            status, body = 500, {"error": type(e).__name__}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        access_log.info("%s %s", self.address_string(), fmt % args)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--log", required=True)
    p.add_argument("--faults", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    logging.basicConfig(
        filename=a.log,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    server = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    server.shop = Shop(a.faults, a.seed)
    port = server.server_address[1]
    log.info("listening on 127.0.0.1:%d", port)
    print(port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
