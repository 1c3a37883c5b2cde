<?php

declare(strict_types=1);

namespace Kassagate\Exception;

/**
 * The receipt breaks a rule. Either the local check found it before anything was sent
 * (isLocal() true, getCode() 60: what the server would have answered), or the server
 * answered 60 (arithmetic, ranges, VAT by date), 230 (cluster type) or 4040 (vending
 * fields). $path names the field (products_arr[0].summa) when known; $reason is what
 * was expected (locally) or the server's whole text.
 */
final class ReceiptInvalid extends KassagateException
{
    public function __construct(
        public readonly string $path,
        public readonly string $reason,
        int $frontCode = 60,
        public readonly bool $local = true,
    ) {
        $where = $path === '' ? '' : $path . ': ';
        parent::__construct($local ? 'receipt not sent: ' . $where . $reason : $reason, $frontCode);
    }

    public function isLocal(): bool
    {
        return $this->local;
    }
}
