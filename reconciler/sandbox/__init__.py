"""The local sandbox: a faithful simulator of the Microsoft Advertising Customer Billing coupon API.

Modules, one job each:

- ``seed``: the seed YAML file, loaded and checked (every problem with its line) into frozen values.
- ``store``: the SQLite store (customers, accounts, classes, minted coupons, credentials, the call log).
- ``wire``: the JSON wire format of the API: dates, ids, and the ``Type``-tagged fault bodies.
- ``auth``: the ``Authorization`` / ``DeveloperToken`` headers, checked against the store.
- ``msads_api``: SearchCoupons, DistributeCoupons, DispatchCoupons and RedeemCoupon.
- ``oauth``: the simulated OAuth token endpoint (refresh_token grant).
- ``faults``: fault injection (latency, throttling, 500s, dropped answers, read lag), deterministic by seed.
- ``app``: the Starlette application that puts these together.
- ``server``: serving the application over real HTTP with uvicorn.
- ``embedded``: the same application as an in-process httpx transport.

docs/sandbox.md describes the seed format, the fault specs and which behaviours are inferred.
"""
