"""Floor-plan auto finance ("car e-link", 车e联): the bank finances the cars an OEM ships to its
dealers; the cars wait, pledged, in yards watched by a supervisor company, and each is redeemed
and released on its own.

    credit line (maker-checker) -> bill requested -> bill issued (margin frozen, line drawn)
      -> OEM shipment (cars in_transit; one margin hold per car) -> arrived
      -> supervisor intake (in_stock, certificate in custody, days in stock counting)
      -> redemption: full | margin | batch (ledger batch; margin released pro rata)
         or release-before-repay (trusted dealer, separate limit, deadline)
      -> supervisor release (certificate and car leave the yard)
    jobs: maturity sweep (margin, deposit, overdue advance), curtailment, aging alerts,
          release deadlines (out of trust), risk-based inventory audit schedule

Modules: ``service`` (the write side, one module per stage: ``credit``, ``bills``, ``intake``
(shipments, arrival, intake), ``funds``, ``redemption``, ``release``, ``curtailment``,
``maturity``, ``aging``, ``audits``, ``alerts``), ``queries`` (the read side: ``dealers``,
``stock``, ``oversight``), ``models`` (tables), ``rules`` (pure arithmetic and states),
``accounts`` (ledger account codes and transfer ids), ``access`` (who sees what), ``jobs``,
``seed``, ``risk_port`` (the risk ports, from the wiring) and ``area`` (the declaration the
composition root reads). All money moves through ``backend.ledger``; docs/floorplan.md has the
diagram, endpoints and figures. Importing the package wires nothing.
"""
