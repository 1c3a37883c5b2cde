<?php

declare(strict_types=1);

namespace Kassagate;

/**
 * The most used payment subjects of a line (tag 1212; any value from 1 to 33 is taken).
 */
final class PaymentSubject
{
    public const GOODS = 1;
    public const EXCISE_GOODS = 2;
    public const WORK = 3;
    public const SERVICE = 4;
    public const PAYMENT = 10;
    public const AGENT_COMMISSION = 11;
    public const COMPOSITE = 12;
    public const OTHER = 13;
}
