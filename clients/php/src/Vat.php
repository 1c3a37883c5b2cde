<?php

declare(strict_types=1);

namespace Kassagate;

/**
 * VAT codes (tag 1199) and the settlement dates each is valid on. A sale or purchase must
 * use a code valid on its date (Moscow time); a return may use any code.
 */
final class Vat
{
    public const VAT_20 = 1;
    public const VAT_10 = 2;
    public const VAT_20_120 = 3;
    public const VAT_10_110 = 4;
    public const VAT_0 = 5;
    public const WITHOUT = 6;
    public const VAT_5 = 7;
    public const VAT_7 = 8;
    public const VAT_5_105 = 9;
    public const VAT_7_107 = 10;
    public const VAT_22 = 11;
    public const VAT_22_122 = 12;

    /** code => [name, valid from (inclusive) or null, valid until (inclusive) or null] */
    public const TABLE = [
        1 => ['20%', null, '2026-01-04'],
        2 => ['10%', null, null],
        3 => ['20/120', null, '2026-01-04'],
        4 => ['10/110', null, null],
        5 => ['0%', null, null],
        6 => ['without VAT', null, null],
        7 => ['5%', '2025-01-01', null],
        8 => ['7%', '2025-01-01', null],
        9 => ['5/105', '2025-01-01', null],
        10 => ['7/107', '2025-01-01', null],
        11 => ['22%', '2026-01-05', null],
        12 => ['22/122', '2026-01-05', null],
    ];

    public static function validOn(int $code, string $isoDate): bool
    {
        if (!isset(self::TABLE[$code])) {
            return false;
        }
        [, $from, $until] = self::TABLE[$code];
        return ($from === null || $isoDate >= $from) && ($until === null || $isoDate <= $until);
    }

    /**
     * @return list<int>
     */
    public static function codesValidOn(string $isoDate): array
    {
        return array_values(array_filter(array_keys(self::TABLE), static fn (int $c): bool => self::validOn($c, $isoDate)));
    }
}
