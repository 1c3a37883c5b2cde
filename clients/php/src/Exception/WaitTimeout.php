<?php

declare(strict_types=1);

namespace Kassagate\Exception;

use Kassagate\Status;

/**
 * waitFiscalized() ran out of time; $last is the last status seen (null when the server
 * could not be reached at all). Poll again later: the request is not lost.
 */
final class WaitTimeout extends KassagateException
{
    public function __construct(string $message, public readonly ?Status $last)
    {
        parent::__construct($message);
    }

    public function isRetryable(): bool
    {
        return true;
    }
}
