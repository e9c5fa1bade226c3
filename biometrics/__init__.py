"""Face verification for check-ins: a pure library (bytes in, measurements and decisions out).

No database, no HTTP, no imports from other emon packages. The public API lives in :mod:`biometrics.pipeline`
(``warm_up``, ``analyse_enrolment``, ``verify_checkin``, ``analyse_image``), :mod:`biometrics.liveness`
(``derive_challenge``), :mod:`biometrics.templates` (``TemplateKeyring``, ``seal``, ``open_sealed``,
``reencrypt``), :mod:`biometrics.decode` (``decode_image``, ``DecodeError``) and :mod:`biometrics.policy`
(``BiometricPolicy``). Importing this package does not load dlib; ``warm_up`` does.
"""
