<?php

declare(strict_types=1);

namespace Kassagate\Exception;

/**
 * The front server answered with an error code (status "error"). getCode() is the code,
 * getMessage() the server's text. Subclasses group the codes by what to do about them;
 * a code none of them knows arrives as this class.
 */
class RequestRejected extends KassagateException
{
    /**
     * @param array<string, mixed> $answer the JSON answer as decoded
     */
    public function __construct(
        int $frontCode,
        string $message,
        public readonly int $httpStatus,
        public readonly array $answer = [],
    ) {
        parent::__construct($message, $frontCode);
    }
}
