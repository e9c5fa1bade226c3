"""Field work: orders from intake to submission, officers' visit jobs, fittings and removals, device stock, evidence
photos and offline sync.

Modules: ``vocab`` (value lists), ``models``, ``schemas``, ``service`` (context, scoping, functions for other
packages), ``intake`` (drafts, submission, variations, wearers, protected characteristics), ``visits`` (jobs,
allocation, fitting, removal, failed visits), ``stock`` (devices), ``photos`` (encrypted content-addressed store),
``sync`` (idempotent offline batches), ``geometry`` and ``postcodes`` (pure helpers), ``routes`` (HTTP), ``demo``.

For other packages (the check-in package in particular)::

    from fieldwork.service import active_order_for_wearer, checkin_windows, zones, zone_breaches, wearers_visible_to

    order = await active_order_for_wearer(session, wearer_id)      # ACTIVE order and its submitted version, or None
    windows = checkin_windows(order, on=today)                      # [CheckinWindow(day, start, end), ...]
    broken = zone_breaches(order, lon, lat, on=today)               # exclusion zones entered / inclusion zones left
"""
