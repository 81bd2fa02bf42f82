#!/usr/bin/env python3
"""moto_server handling one request at a time.

moto's TransactWriteItems is not atomic across server threads: it snapshots
whole tables before a transaction and restores the snapshot when the
transaction is cancelled, undoing any transaction that committed in between.
Real DynamoDB isolates transactions, so tests that race writers (the users
function's, for one) run moto serially: requests still interleave between
racing handlers (both read before either writes), but each call is atomic.
Started by moto-harness's MotoServer::start_serial; same command line as
moto_server (-H HOST -p PORT).
"""
import sys

import moto.server

_run_simple = moto.server.run_simple


def _serial_run_simple(*args, **kwargs):
    kwargs["threaded"] = False
    return _run_simple(*args, **kwargs)


moto.server.run_simple = _serial_run_simple
sys.exit(moto.server.main())
