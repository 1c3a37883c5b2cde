<?php

declare(strict_types=1);

namespace Kassagate;

/**
 * Settlement signs (tag 1054).
 */
final class SettlementSign
{
    public const SALE = 1;
    public const SALE_RETURN = 2;
    public const PURCHASE = 3;
    public const PURCHASE_RETURN = 4;
}
