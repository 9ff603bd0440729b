"""The app's side of workspace sync, headless: what the desktop app and `cairn` share.

- ``accounts``: ``connect`` (redeem an invite, pin the server's key), ``accounts``,
  ``find_account``, ``disconnect``.
- ``disclosure``: ``preview`` (exactly what would be sent) and ``queue_submission``
  (freeze, sign with the space's identity key, put in the outbox).
- ``outbox``: ``push`` (attachments, then the submission; receipt kept), ``entries``,
  ``retry``, ``discard``, ``withdraw``, ``next_attempt_in``, ``in_flight``.
- ``pulling``: ``pull`` (feedback, decisions, review requests, comments, resources;
  organisation templates installed, documents kept), ``learn_organisation_names``.
- ``resources``: ``organisation_resources``, ``document_content``, ``save_document``
  (documents and links from the organisations, and the bounds on what is kept).
- ``records``: ``RecordsRead``, every sync record read once for several questions.
- ``reviews``: ``review_requests``, ``review_request``, ``send_peer_review`` (a
  colleague's submission this person was asked to peer-review, and the review sent back).
- ``sharing``: ``publish_share``, ``update_share``, ``revoke_share``, ``shares``.
- ``status``: ``asset_status`` and ``badges`` for the editor and the library.
- ``worker``: ``sync_once``, one round of push and pull for every account.

Everything is kept as sync records in the space (sealed; see ``kinds`` for the kinds).
Functions take plain data and return plain data, never widgets; those that talk to a
server belong on a network thread (each makes its own client unless given one).
"""
