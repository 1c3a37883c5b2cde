<?php

declare(strict_types=1);

namespace Kassagate;

/**
 * Payment methods of a line (tag 1214), 1 to 7.
 */
final class PaymentMethod
{
    public const FULL_PREPAYMENT = 1;
    public const PARTIAL_PREPAYMENT = 2;
    public const ADVANCE = 3;
    public const FULL_PAYMENT = 4;
    public const PARTIAL_PAYMENT_AND_CREDIT = 5;
    public const TRANSFER_ON_CREDIT = 6;
    public const CREDIT_PAYMENT = 7;
}
