"""Thread limits for numerical libraries called from a job."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext


def blas_threads(n: int) -> AbstractContextManager:
    """Limit BLAS threads to ``n`` inside the block (no-op without threadpoolctl).

    GPAW runs serially here, and phonopy diagonalises thousands of small dynamical
    matrices: threaded BLAS on such work only adds synchronisation, which on a busy
    machine costs more than the work itself.

    Parameters
    ----------
    n
        Maximum number of BLAS threads inside the ``with`` block.

    Returns
    -------
    contextlib.AbstractContextManager
        ``threadpoolctl.threadpool_limits(limits=n, user_api="blas")``, or a null context
        when threadpoolctl is not installed.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return nullcontext()
    return threadpool_limits(limits=n, user_api="blas")


__all__ = ["blas_threads"]
