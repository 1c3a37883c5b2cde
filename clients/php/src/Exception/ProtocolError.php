<?php

declare(strict_types=1);

namespace Kassagate\Exception;

/**
 * The answer is not one of the protocol: not JSON, no code, an HTML page of a proxy, an
 * unexpected HTTP status.
 */
final class ProtocolError extends KassagateException
{
    public function __construct(string $message, public readonly int $httpStatus)
    {
        parent::__construct($message);
    }
}
