<?php

declare(strict_types=1);

namespace Kassagate\Exception;

/**
 * The server could not be reached or did not answer in time. For a send the outcome is
 * unknown: send again with the same RID (a duplicate then answers 409 with the first
 * request's nuid/qnuid).
 */
final class TransportError extends KassagateException
{
    public function isRetryable(): bool
    {
        return true;
    }
}
