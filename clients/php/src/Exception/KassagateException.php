<?php

declare(strict_types=1);

namespace Kassagate\Exception;

/**
 * Base of every error of this library.
 *
 * getCode() is the front server's answer code (60, 320, 70...) when the server gave one,
 * else 0; getFrontCode() says the same with null for "no code".
 */
class KassagateException extends \RuntimeException
{
    public function getFrontCode(): ?int
    {
        return $this->getCode() === 0 ? null : $this->getCode();
    }

    /**
     * Whether sending the same request again (with the same RID) later may succeed.
     */
    public function isRetryable(): bool
    {
        return false;
    }
}
