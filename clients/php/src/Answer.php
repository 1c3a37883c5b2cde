<?php

declare(strict_types=1);

namespace Kassagate;

/**
 * A successful answer of the front server to a send: accepted (800 RID recorded, 810 RID
 * invalid, 820 no RID, 390 debug kassa), a duplicate RID (409: $nuid/$qnuid are the first
 * request's), or a check (140 test mode, 100 connectivity). Error codes are exceptions.
 */
final class Answer
{
    /** Durably stored by the server: will be fiscalized (or shown, for a debug kassa). */
    public const ACCEPTED_CODES = [800, 810, 820, 390];
    public const DUPLICATE = 409;

    /**
     * @param array<string, mixed> $raw the JSON answer as decoded
     */
    public function __construct(
        public readonly int $code,
        public readonly string $message,
        public readonly int $httpStatus,
        public readonly ?string $nuid = null,
        public readonly ?string $qnuid = null,
        public readonly ?string $ridError = null,
        public readonly ?bool $sameRequest = null,
        public readonly array $raw = [],
    ) {
    }

    public function isAccepted(): bool
    {
        return in_array($this->code, self::ACCEPTED_CODES, true);
    }

    /**
     * The RID was already recorded: nothing new was stored; $nuid/$qnuid name the first
     * request, $sameRequest says whether its receipt was the same.
     */
    public function isDuplicate(): bool
    {
        return $this->code === self::DUPLICATE;
    }

    /**
     * Whether the answer names a request whose status can be polled (accepted or duplicate).
     */
    public function hasRequest(): bool
    {
        return ($this->isAccepted() || $this->isDuplicate()) && $this->nuid !== null && $this->qnuid !== null;
    }
}
