<?php

declare(strict_types=1);

namespace Kassagate;

/**
 * Tax systems (tag 1055). 3 (imputed income) no longer exists.
 */
final class TaxSystem
{
    public const GENERAL = 0;
    public const SIMPLIFIED_INCOME = 1;
    public const SIMPLIFIED_INCOME_MINUS_EXPENSE = 2;
    public const AGRICULTURAL = 4;
    public const PATENT = 5;

    public const ALL = [0, 1, 2, 4, 5];
}
