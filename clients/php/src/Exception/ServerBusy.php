<?php

declare(strict_types=1);

namespace Kassagate\Exception;

/**
 * The server could not store the request (70: database down, disk full) or failed
 * unexpectedly (80, the text carries a correlation id for the operator). Nothing was
 * accepted: send again later, with the same RID.
 */
final class ServerBusy extends RequestRejected
{
    public function isRetryable(): bool
    {
        return true;
    }
}
