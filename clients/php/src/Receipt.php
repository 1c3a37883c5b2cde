<?php

declare(strict_types=1);

namespace Kassagate;

use Kassagate\Exception\ReceiptInvalid;

/**
 * A checked receipt in its wire form (the layer 1 JSON), without kassaid and kassatoken:
 * the client fills those in. Build one with ReceiptBuilder, or check a wire array you
 * already have with Receipt::fromArray().
 *
 * The checks are the front server's receipt rules, in its order and with its field paths:
 * line arithmetic (a discount per line or per unit), totals, payments, money up to 10^13
 * kopecks, ranges of the enumerations, agent lines, VAT by date, korr_arr (a correction
 * with or without lines, the basis document of a return), lengths. A broken rule throws
 * ReceiptInvalid (code 60, the field path, what was expected) and nothing is sent. The
 * korr_arr is sent as given.
 */
final class Receipt implements \JsonSerializable
{
    /**
     * Money is integer kopecks, 0 to 10^13 (100 billion roubles): a total, a payment, a
     * line's amount before and after its discount.
     */
    public const MAX_MONEY = 10_000_000_000_000;
    /** Quantities in thousandths: at most 99999999.999. */
    public const MAX_QUANTITY_MILLI = 99999999999;
    public const MAX_PRODUCTS = 1000;
    /** Measures of quantity (tag 2108). */
    public const MEASURES = [0, 10, 11, 12, 20, 21, 22, 30, 31, 32, 40, 41, 42, 50, 51, 70, 71, 72, 73, 80, 81, 82, 83, 255];
    private const SIGN_NAMES = '1 sale, 2 sale return, 3 purchase, 4 purchase return';
    /** Products of money and quantity above this are only "too large" (far above MAX_MONEY). */
    private const HUGE = 100_000_000_000_000_000;
    private const MAX_UNIX_SECONDS = 253402300799; // 9999-12-31T23:59:59Z
    /** Agent strings of a line: wire name => [FFD tag, kind, max length]. */
    private const AGENT_FIELDS = [
        'phone_oper_perevoda' => [1075, 'phone', 19],
        'operation_plat_agenta' => [1044, 'text', 64],
        'phone_oper_priem_plat' => [1074, 'phone', 19],
        'name_oper_perevoda' => [1026, 'text', 64],
        'address_oper_perevoda' => [1005, 'text', 256],
        'inn_oper_perevoda' => [1016, 'inn', 12],
        'phone_postavshika' => [1171, 'phone', 19],
        'name_postavshika' => [1225, 'text', 64],
    ];
    private const BANK_AGENT_FIELDS = ['operation_plat_agenta', 'phone_oper_perevoda', 'name_oper_perevoda', 'address_oper_perevoda', 'inn_oper_perevoda'];
    /** Agent strings each agent sign (tag 1222) requires, besides the supplier's name and phone. */
    private const AGENT_REQUIRED = [
        0 => self::BANK_AGENT_FIELDS,
        1 => self::BANK_AGENT_FIELDS,
        2 => ['phone_oper_priem_plat'],
        3 => ['phone_oper_priem_plat'],
        4 => [],
        5 => [],
        6 => [],
    ];
    private const AGENT_NAMES = ['bank paying agent', 'bank paying subagent', 'paying agent', 'paying subagent', 'attorney', 'commission agent', 'other agent'];
    /** korr_arr amounts by VAT rate (a correction without lines) => the VAT code. */
    public const KORR_VAT = [
        'money_nds_20' => 1,
        'money_nds_10' => 2,
        'money_nds_20_120' => 3,
        'money_nds_10_110' => 4,
        'money_nds_0' => 5,
        'money_bez_nds' => 6,
        'money_nds_5' => 7,
        'money_nds_7' => 8,
        'money_nds_5_105' => 9,
        'money_nds_7_107' => 10,
        'money_nds_22' => 11,
        'money_nds_22_122' => 12,
    ];

    /**
     * @param array<string, mixed> $wire
     */
    private function __construct(private readonly array $wire)
    {
    }

    /**
     * Check a receipt in the wire form of the protocol (products_arr, oplata_arr,
     * itog_arr, korr_arr...). Numbers may be integers, integral floats or strings of
     * digits, quantities decimal strings or numbers. $settlementDate (default: today in
     * Moscow) decides which VAT codes a sale or purchase may use (a correction: the codes of
     * its corrected settlement's date; a return: any code). kassaid/kassatoken, when
     * present, are kept (the client checks they are its own).
     *
     * @param array<string, mixed> $receipt
     */
    public static function fromArray(array $receipt, ?\DateTimeInterface $settlementDate = null): self
    {
        $today = self::isoDate($settlementDate);
        $wire = [];
        // kassaid and kassatoken are the client's to fill in; checked when given.
        if (array_key_exists('kassaid', $receipt)) {
            $wire['kassaid'] = self::text($receipt, 'kassaid', 'kassaid', 20, true, true);
        }
        if (array_key_exists('kassatoken', $receipt)) {
            $wire['kassatoken'] = self::text($receipt, 'kassatoken', 'kassatoken', 256, true, false, true);
        }
        $wire['cms'] = self::text($receipt, 'cms', 'cms', 128, true);
        $sendRaw = $receipt['check_send_type'] ?? 'none';
        $sendType = is_string($sendRaw) ? strtolower(trim($sendRaw)) : '';
        if (!in_array($sendType, ['email', 'phone', 'none'], true)) {
            throw new ReceiptInvalid('check_send_type', 'expected "email", "phone" or "none", got ' . self::describe($sendRaw));
        }
        $wire['check_send_type'] = $sendType;
        $wire['name_zakaz'] = self::text($receipt, 'name_zakaz', 'name_zakaz', 256, false, true);
        foreach (['check_vend_address' => 256, 'check_vend_mesto' => 256, 'check_vend_num_avtovat' => 20] as $name => $max) {
            $value = self::text($receipt, $name, $name, $max, false, $name === 'check_vend_num_avtovat');
            if (array_key_exists($name, $receipt)) {
                $wire[$name] = $value;
            }
        }

        $itog = self::object($receipt, 'itog_arr');
        $sign = self::int($itog, 'priznak_rascheta', 'itog_arr.priznak_rascheta');
        if ($sign < 1 || $sign > 4) {
            throw new ReceiptInvalid('itog_arr.priznak_rascheta', 'expected a settlement sign (tag 1054): ' . self::SIGN_NAMES . ", got $sign");
        }
        $declaredTotal = self::money($itog, 'itog_cheka', 'itog_arr.itog_cheka');
        $isReturn = $sign === SettlementSign::SALE_RETURN || $sign === SettlementSign::PURCHASE_RETURN;

        $korr = null;
        $korrObj = [];
        $rawKorr = $receipt['korr_arr'] ?? null;
        if ($rawKorr !== null && $rawKorr !== false && $rawKorr !== '' && $rawKorr !== []) {
            $korrObj = self::object($receipt, 'korr_arr');
            $korr = self::correction($korrObj, $today, $sign, $declaredTotal);
        }
        $correction = $korr !== null && $korr['type'] !== null;
        // VAT by date: a sale or purchase uses the codes valid on its date, a correction
        // those of the corrected settlement's date, a return any code.
        $vatDay = $isReturn ? null : ($correction ? $korr['date'] : $today);

        $products = $receipt['products_arr'] ?? null;
        if ($correction && ($products === null || $products === [])) {
            // FFD 1.05 correction: no lines, the amounts by VAT rate in korr_arr.
            if ($korr['vat'] === []) {
                throw new ReceiptInvalid('korr_arr', 'a correction without products_arr needs its amounts by VAT rate: at least one of ' . implode(', ', array_keys(self::KORR_VAT)));
            }
            [$oplata, $moved] = self::paymentSource($receipt, $korrObj);
            $payments = self::payments($oplata, $sendType, $moved);
            self::checkPayments($payments, $declaredTotal);
            $wire['products_arr'] = [];
            $wire['oplata_arr'] = $payments;
            $wire['itog_arr'] = ['priznak_rascheta' => $sign, 'itog_cheka' => $declaredTotal];
            $wire['korr_arr'] = $rawKorr;
            return new self($wire);
        }
        if (!array_key_exists('products_arr', $receipt)) {
            throw new ReceiptInvalid('products_arr', 'required field is missing');
        }
        if ($products === null) {
            throw new ReceiptInvalid('products_arr', 'required field is null');
        }
        if (is_array($products) && $products !== [] && !array_is_list($products) && self::digitKeys($products)) {
            // PHP's json_encode turns an array with holes into an object {"0": ..., "2": ...}.
            uksort($products, static fn (int|string $a, int|string $b): int => (int) $a <=> (int) $b);
            $products = array_values($products);
        }
        if (!is_array($products) || !array_is_list($products)) {
            throw new ReceiptInvalid('products_arr', 'expected an array of products, got ' . self::describe($products));
        }
        if ($products === []) {
            throw new ReceiptInvalid('products_arr', 'expected at least one product, got an empty array');
        }
        if (count($products) > self::MAX_PRODUCTS) {
            throw new ReceiptInvalid('products_arr', 'expected at most ' . self::MAX_PRODUCTS . ' products, got ' . count($products));
        }
        $wire['products_arr'] = [];
        $sums = [];
        foreach ($products as $i => $product) {
            $line = self::product($product, "products_arr[$i]", $vatDay, $correction);
            $wire['products_arr'][] = $line;
            $sums[] = $line['summa'];
        }

        [$oplata, $moved] = $correction ? self::paymentSource($receipt, $korrObj) : [self::object($receipt, 'oplata_arr'), []];
        $payments = self::payments($oplata, $sendType, $moved);

        $total = array_sum($sums);
        if ($declaredTotal !== $total) {
            $terms = ': ' . implode(' + ', array_slice($sums, 0, 10)) . (count($sums) > 10 ? ' + …' : '');
            throw new ReceiptInvalid('itog_arr.itog_cheka', "expected $total (= Σ products_arr[].summa$terms), got $declaredTotal");
        }
        self::checkPayments($payments, $total);
        if ($korr !== null && $total === 0) {
            throw new ReceiptInvalid('itog_arr.itog_cheka', 'a correction settles an amount: expected more than 0, got 0');
        }
        $wire['oplata_arr'] = $payments;
        $wire['itog_arr'] = ['priznak_rascheta' => $sign, 'itog_cheka' => $total];
        if ($korr !== null) {
            $wire['korr_arr'] = $rawKorr;
        }
        return new self($wire);
    }

    /**
     * The wire form (without kassaid/kassatoken unless the array given had them).
     *
     * @return array<string, mixed>
     */
    public function toArray(): array
    {
        return $this->wire;
    }

    /**
     * @return array<string, mixed>
     */
    public function jsonSerialize(): array
    {
        return $this->wire;
    }

    /** itog_cheka, kopecks. */
    public function total(): int
    {
        return $this->wire['itog_arr']['itog_cheka'];
    }

    public function settlementSign(): int
    {
        return $this->wire['itog_arr']['priznak_rascheta'];
    }

    /**
     * round(a × q / 1000), half up, for non-negative a and a quantity q in thousandths;
     * null when the product would leave the money range.
     */
    public static function times(int $amount, int $milli): ?int
    {
        $value = self::roundTimes($amount, $milli);
        return $value > self::MAX_MONEY ? null : $value;
    }

    /**
     * A quantity in thousandths from an integer, a float (read as its shortest decimal
     * form) or a decimal string ("1.5"); throws ReceiptInvalid at $path.
     */
    public static function quantity(mixed $value, string $path): int
    {
        if (is_int($value)) {
            $text = (string) $value;
        } elseif (is_float($value) && is_finite($value)) {
            $text = json_encode($value, JSON_THROW_ON_ERROR);
        } elseif (is_string($value)) {
            $text = $value;
            if (preg_match('/^\d+,\d+$/', $text) === 1) {
                throw new ReceiptInvalid($path, "expected a decimal dot, got a comma: write '" . str_replace(',', '.', $text) . "'");
            }
        } else {
            throw new ReceiptInvalid($path, 'expected a quantity (a number or a decimal string), got ' . get_debug_type($value));
        }
        if (strlen($text) > 40 || preg_match('/^(\d+)(?:\.(\d+))?\z/', $text, $m) !== 1) {
            throw new ReceiptInvalid($path, "expected a positive quantity like 2 or 1.5, got '" . substr($text, 0, 40) . "'");
        }
        $decimals = $m[2] ?? '';
        if ((int) $m[1] === 0 && trim($decimals, '0') === '') {
            throw new ReceiptInvalid($path, "expected a quantity above 0, got '$text'");
        }
        if (strlen(rtrim($decimals, '0')) > 3) {
            throw new ReceiptInvalid($path, "expected at most 3 decimals, got '$text'");
        }
        $whole = ltrim($m[1], '0');
        $milli = strlen($whole) > 9 ? PHP_INT_MAX : (int) $whole * 1000 + (int) str_pad(substr($decimals, 0, 3), 3, '0');
        if ($milli > self::MAX_QUANTITY_MILLI) {
            throw new ReceiptInvalid($path, "expected at most 99999999.999, got '$text'");
        }
        return $milli;
    }

    /**
     * The wire form of a quantity: an integer when whole, else a JSON number with at most
     * 3 decimals.
     */
    public static function quantityWire(int $milli): int|float
    {
        return $milli % 1000 === 0 ? intdiv($milli, 1000) : (float) (intdiv($milli, 1000) . '.' . sprintf('%03d', $milli % 1000));
    }

    public static function quantityText(int $milli): string
    {
        $q = self::quantityWire($milli);
        return is_int($q) ? (string) $q : json_encode($q, JSON_THROW_ON_ERROR);
    }

    /**
     * @return array<string, mixed>
     */
    private static function product(mixed $product, string $path, ?string $vatDay, bool $correction): array
    {
        if (!is_array($product) || ($product !== [] && array_is_list($product))) {
            throw new ReceiptInvalid($path, 'expected a product object, got ' . self::describe($product));
        }
        self::required($product, 'name_tovar', "$path.name_tovar");
        $name = self::text($product, 'name_tovar', "$path.name_tovar", 128, true, true);
        $base = isset($product['price_piece_bez_skidki'])
            ? self::money($product, 'price_piece_bez_skidki', "$path.price_piece_bez_skidki")
            : null;
        self::required($product, 'kolvo', "$path.kolvo");
        $milli = self::quantity($product['kolvo'], "$path.kolvo");
        $q = self::quantityText($milli);
        $discount = self::money($product, 'skidka', "$path.skidka", 0);
        $pricePiece = self::money($product, 'price_piece', "$path.price_piece");
        $base ??= $pricePiece; // no price before discount: none was given
        $summa = self::money($product, 'summa', "$path.summa");

        $vat = self::int($product, 'stavka_nds', "$path.stavka_nds");
        if (!isset(Vat::TABLE[$vat])) {
            throw new ReceiptInvalid("$path.stavka_nds", "expected a VAT code (tag 1199) from 1 to 12, got $vat");
        }
        if ($vatDay !== null && !Vat::validOn($vat, $vatDay)) {
            $when = $correction ? "the corrected settlement's date $vatDay" : $vatDay;
            $valid = implode(', ', array_map(static fn (int $c): string => $c . ' (' . Vat::TABLE[$c][0] . ')', Vat::codesValidOn($vatDay)));
            throw new ReceiptInvalid("$path.stavka_nds", "VAT code $vat (" . Vat::TABLE[$vat][0] . ") is not valid on $when; valid codes: $valid");
        }
        $method = self::int($product, 'priznak_sposoba_rascheta', "$path.priznak_sposoba_rascheta");
        if ($method < 1 || $method > 7) {
            throw new ReceiptInvalid("$path.priznak_sposoba_rascheta", "expected a payment method (tag 1214) from 1 to 7, got $method");
        }
        $subject = self::int($product, 'priznak_predmeta_rascheta', "$path.priznak_predmeta_rascheta");
        if ($subject < 1 || $subject > 33) {
            throw new ReceiptInvalid("$path.priznak_predmeta_rascheta", "expected a payment subject (tag 1212) from 1 to 33, got $subject");
        }

        $rawAgent = $product['priznak_agenta'] ?? null;
        if (self::notAnAgent($rawAgent)) {
            $agent = 'none';
        } else {
            $agent = self::int($product, 'priznak_agenta', "$path.priznak_agenta");
            if (!isset(self::AGENT_REQUIRED[$agent])) {
                throw new ReceiptInvalid("$path.priznak_agenta", "expected an agent sign (tag 1222): \"none\" or 0 to 6, got $agent");
            }
        }
        // Not an agent's line: the agent and supplier strings are ignored whatever they hold.
        $agentValues = array_fill_keys(array_keys(self::AGENT_FIELDS), '');
        if ($agent !== 'none') {
            foreach (self::AGENT_FIELDS as $field => [$tag, $kind, $max]) {
                $agentValues[$field] = match ($kind) {
                    'phone' => self::phone($product, $field, "$path.$field"),
                    'inn' => self::inn($product, $field, "$path.$field"),
                    default => self::text($product, $field, "$path.$field", $max),
                };
            }
            foreach ([...self::AGENT_REQUIRED[$agent], 'name_postavshika', 'phone_postavshika'] as $field) {
                if (trim($agentValues[$field]) === '') {
                    throw new ReceiptInvalid("$path.$field", 'required (tag ' . self::AGENT_FIELDS[$field][0] . ") when priznak_agenta is $agent (" . self::AGENT_NAMES[$agent] . ')');
                }
            }
        }

        $measure = null;
        if (isset($product['mera_kolva_predmeta_rasheta'])) {
            $measure = self::int($product, 'mera_kolva_predmeta_rasheta', "$path.mera_kolva_predmeta_rasheta");
            if (!in_array($measure, self::MEASURES, true)) {
                throw new ReceiptInvalid("$path.mera_kolva_predmeta_rasheta", 'expected a measure of quantity (tag 2108): 0 pieces, 10-12, 20-22, 30-32, 40-42, 50-51, 70-73, 80-83 or 255, got ' . $measure);
            }
        }

        // Arithmetic: summa against the price before discount, quantity and discount.
        $gross = self::roundTimes($base, $milli);
        if ($discount > 0) {
            self::checkDiscountedSumma($path, $base, $milli, $discount, $summa, $gross);
        } elseif (abs($summa - $gross) > 1) {
            throw new ReceiptInvalid("$path.summa", 'expected ' . self::shown($gross) . " (= round(price_piece_bez_skidki $base × kolvo $q) − skidka 0), got $summa");
        }
        // The line's amount before its discount, as the register receives it (itemAmount).
        $before = $discount > 0 ? max($gross, $summa) : $summa;
        if ($before > self::MAX_MONEY) {
            throw new ReceiptInvalid("$path.skidka", 'expected the line\'s amount before its discount to be at most ' . self::MAX_MONEY . ' kopecks, got ' . self::shown($before) . " (= round(price_piece_bez_skidki $base × kolvo $q))");
        }
        $ceil = intdiv($milli + 999, 1000);
        if (($pricePiece > 0 && $milli > intdiv(PHP_INT_MAX, $pricePiece)) || abs($pricePiece * $milli - $summa * 1000) > $ceil * 1000) {
            $expected = intdiv(2 * $summa * 1000 + $milli, 2 * $milli);
            $unit = $ceil === 1 ? 'kopeck' : 'kopecks';
            throw new ReceiptInvalid("$path.price_piece", "expected price_piece × kolvo $q within $ceil $unit of summa $summa (price_piece ≈ $expected), got $pricePiece");
        }

        $line = [
            'name_tovar' => $name,
            'price_piece_bez_skidki' => $base,
            'kolvo' => self::quantityWire($milli),
            'skidka' => $discount,
            'price_piece' => $pricePiece,
            'summa' => $summa,
            'stavka_nds' => $vat,
            'priznak_sposoba_rascheta' => $method,
            'priznak_predmeta_rascheta' => $subject,
            'priznak_agenta' => $agent,
        ] + $agentValues;
        if ($measure !== null) {
            $line['mera_kolva_predmeta_rasheta'] = (string) $measure;
        }
        return $line;
    }

    /**
     * summa of a discounted line: skidka is read for the whole line or per unit (as shop
     * plugins send it); summa must match either reading within 1 kopeck.
     */
    private static function checkDiscountedSumma(string $path, int $base, int $milli, int $discount, int $summa, int $gross): void
    {
        $q = self::quantityText($milli);
        $perLine = $discount <= $gross ? $gross - $discount : null;
        $perUnit = $discount <= $base ? self::roundTimes($base - $discount, $milli) : null;
        if ($perLine === null && $perUnit === null) {
            $bound = $gross >= $base
                ? "$gross (= round(price_piece_bez_skidki $base × kolvo $q))"
                : "$base (= price_piece_bez_skidki, a discount per unit)";
            throw new ReceiptInvalid("$path.skidka", "expected at most $bound, got $discount");
        }
        if (($perLine !== null && abs($summa - $perLine) <= 1) || ($perUnit !== null && abs($summa - $perUnit) <= 1)) {
            return;
        }
        $readings = [
            $perLine !== null
                ? self::shown($perLine) . " (discount per line: round(price_piece_bez_skidki $base × kolvo $q) − skidka $discount)"
                : "nothing with the discount per line (skidka $discount is over round($base × $q) = $gross)",
            $perUnit !== null
                ? self::shown($perUnit) . " (discount per unit: round((price_piece_bez_skidki $base − skidka $discount) × kolvo $q))"
                : "nothing with the discount per unit (skidka $discount is over price_piece_bez_skidki $base)",
        ];
        throw new ReceiptInvalid("$path.summa", "expected {$readings[0]} or {$readings[1]}, got $summa");
    }

    /**
     * round(a × q / 1000), half up, for non-negative a and a quantity q in thousandths;
     * values above HUGE (far beyond any money value) are HUGE.
     */
    private static function roundTimes(int $amount, int $milli): int
    {
        $whole = intdiv($milli, 1000);
        if ($whole > 0 && $amount > intdiv(self::HUGE, $whole)) {
            return self::HUGE;
        }
        return min(self::HUGE, $amount * $whole + intdiv($amount * ($milli % 1000) + 500, 1000));
    }

    private static function shown(int $amount): string
    {
        return $amount >= self::HUGE ? 'more than ' . self::HUGE : (string) $amount;
    }

    private static function notAnAgent(mixed $value): bool
    {
        return $value === null
            || (is_string($value) && in_array(strtolower(trim($value)), ['none', '', '40'], true))
            || ((is_int($value) || is_float($value)) && $value == 40);
    }

    /**
     * korr_arr in its three forms: a correction by amounts (FFD 1.05, no lines), a
     * correction with lines (FFD 1.2), or the basis document of a return (no type_korr).
     *
     * @param array<string, mixed> $o
     * @return array{type: ?int, date: ?string, vat: array<string, int>}
     */
    private static function correction(array $o, string $today, int $sign, int $total): array
    {
        [$typeName, $rawType] = self::pick($o, ['type_korr', 'tip_korr']);
        if ($rawType === null || $rawType === '' || $rawType === false) {
            $type = null;
            if ($sign !== SettlementSign::SALE_RETURN && $sign !== SettlementSign::PURCHASE_RETURN) {
                throw new ReceiptInvalid('korr_arr.type_korr', 'required on a correction: 0 or "self" (on the merchant\'s own initiative), 1 or "ordered" (by order of the tax office); a korr_arr without it only names the basis document of a return (itog_arr.priznak_rascheta 2 or 4), got priznak_rascheta ' . $sign);
            }
        } elseif (is_string($rawType) && in_array(strtolower(trim($rawType)), ['self', 'ordered'], true)) {
            $type = strtolower(trim($rawType)) === 'self' ? 0 : 1;
        } else {
            $type = self::int($o, $typeName, "korr_arr.$typeName");
            if ($type !== 0 && $type !== 1) {
                throw new ReceiptInvalid("korr_arr.$typeName", "expected a correction type (tag 1173): 0 or \"self\", 1 or \"ordered\", got $type");
            }
        }

        [$dateName, $rawDate] = self::pick($o, ['date_doc_korr', 'data_korr']);
        $day = null;
        if ($rawDate === null || $rawDate === '' || $rawDate === false) {
            if ($type !== null) {
                throw new ReceiptInvalid("korr_arr.$dateName", 'required on a correction: the date of the corrected settlement (tag 1178), unix seconds or "YYYY-MM-DD"');
            }
        } else {
            $day = $dateName === 'data_korr' ? self::date($rawDate, "korr_arr.$dateName") : self::unixDate($rawDate, "korr_arr.$dateName");
            if ($day > $today) {
                throw new ReceiptInvalid("korr_arr.$dateName", "expected the date of a past settlement (at most $today), got $day");
            }
        }

        [$numberName] = self::pick($o, ['numb_doc_korr', 'num_doc_korr', 'nomer_predpisaniya']);
        $number = self::text($o, $numberName, "korr_arr.$numberName", 32, false, true);
        if ($type === 1 && trim($number) === '') {
            throw new ReceiptInvalid("korr_arr.$numberName", "required when $typeName is 1 (correction by order)");
        }
        self::text($o, 'name_doc_korr', 'korr_arr.name_doc_korr', 256, false, true);
        if ($type === null) {
            return ['type' => null, 'date' => $day, 'vat' => []];
        }
        self::text($o, 'fio_upolnomoch', 'korr_arr.fio_upolnomoch', 64);
        self::inn($o, 'inn_upolnomoch', 'korr_arr.inn_upolnomoch');
        $vat = [];
        foreach (self::KORR_VAT as $name => $code) {
            if (!isset($o[$name])) {
                continue;
            }
            $amount = self::money($o, $name, "korr_arr.$name");
            if ($amount > $total) {
                throw new ReceiptInvalid("korr_arr.$name", "expected at most itog_arr.itog_cheka $total, got $amount");
            }
            if ($amount > 0 && $day !== null && !Vat::validOn($code, $day)) {
                $valid = implode(', ', array_keys(array_filter(self::KORR_VAT, static fn (int $c): bool => Vat::validOn($c, $day))));
                throw new ReceiptInvalid("korr_arr.$name", 'VAT rate ' . Vat::TABLE[$code][0] . " is not valid on the corrected settlement's date $day; valid: $valid");
            }
            $vat[$name] = $amount;
        }
        return ['type' => $type, 'date' => $day, 'vat' => $vat];
    }

    /**
     * The first of $names (a field and its aliases) with a non-empty value, else the first
     * one present, else the first name; and its value (null when none is sent).
     *
     * @param array<string, mixed> $o
     * @param list<string> $names
     * @return array{0: string, 1: mixed}
     */
    private static function pick(array $o, array $names): array
    {
        $present = null;
        foreach ($names as $name) {
            $value = $o[$name] ?? null;
            if ($value === null) {
                continue;
            }
            if ($value !== '' && $value !== false) {
                return [$name, $value];
            }
            $present ??= [$name, $value];
        }
        return $present ?? [$names[0], null];
    }

    /** A date "YYYY-MM-DD" or "DD.MM.YYYY", as "YYYY-MM-DD". */
    private static function date(mixed $value, string $path): string
    {
        $what = 'a date "YYYY-MM-DD" (or "DD.MM.YYYY")';
        if (is_string($value)) {
            $text = trim($value);
            $month = '(0?[1-9]|1[0-2])';
            $dayOf = '(0?[1-9]|[12]\d|3[01])';
            if (preg_match("/^(\\d{4})-$month-$dayOf\\z/", $text, $m) === 1) {
                [$y, $mo, $d] = [(int) $m[1], (int) $m[2], (int) $m[3]];
            } elseif (preg_match("/^$dayOf\\.$month\\.(\\d{4})\\z/", $text, $m) === 1) {
                [$y, $mo, $d] = [(int) $m[3], (int) $m[2], (int) $m[1]];
            }
            if (isset($y, $mo, $d) && $y >= 1 && checkdate($mo, $d, $y)) {
                return sprintf('%04d-%02d-%02d', $y, $mo, $d);
            }
        }
        throw new ReceiptInvalid($path, "expected $what, got " . self::describe($value));
    }

    /** date_doc_korr: unix seconds (a number or a string of digits, Moscow time) or a date string. */
    private static function unixDate(mixed $value, string $path): string
    {
        $seconds = -1;
        if (is_string($value) && preg_match('/^\d+\z/', trim($value)) !== 1) {
            try {
                return self::date($value, $path);
            } catch (ReceiptInvalid) {
                // falls through to the error below
            }
        } elseif (is_string($value)) {
            $text = ltrim(trim($value), '0');
            $seconds = strlen($text) <= 12 ? (int) $text : -1;
        } elseif (is_int($value)) {
            $seconds = $value;
        } elseif (is_float($value) && is_finite($value) && floor($value) === $value) {
            $seconds = $value <= self::MAX_UNIX_SECONDS ? (int) $value : -1;
        }
        if ($seconds >= 0 && $seconds <= self::MAX_UNIX_SECONDS) {
            return gmdate('Y-m-d', $seconds + 3 * 3600);
        }
        throw new ReceiptInvalid($path, 'expected a date: unix seconds (a number or a string of digits), "YYYY-MM-DD" or "DD.MM.YYYY", got ' . self::describe($value));
    }

    /**
     * oplata_arr of a correction, with rezhim_nalog and the payment split taken from
     * korr_arr where it carries them (a korr_arr with any money_* carries the whole split).
     *
     * @param array<string, mixed> $receipt
     * @param array<string, mixed> $korr
     * @return array{0: array<string, mixed>, 1: list<string>} the object and the fields read from korr_arr
     */
    private static function paymentSource(array $receipt, array $korr): array
    {
        $moved = [];
        if (isset($korr['rezhim_nalog'])) {
            $moved[] = 'rezhim_nalog';
        }
        foreach (Payment::ALL as $form) {
            if (isset($korr[$form])) {
                $moved = [...$moved, ...Payment::ALL];
                break;
            }
        }
        if ($moved === []) {
            return [self::object($receipt, 'oplata_arr'), []];
        }
        $data = isset($receipt['oplata_arr']) ? self::object($receipt, 'oplata_arr') : [];
        foreach ($moved as $name) {
            $data[$name] = $korr[$name] ?? null;
        }
        if (!in_array('rezhim_nalog', $moved, true) && !isset($data['rezhim_nalog'])) {
            throw new ReceiptInvalid('korr_arr.rezhim_nalog', 'required field is missing (or oplata_arr.rezhim_nalog)');
        }
        return [$data, $moved];
    }

    /**
     * @param array<string, mixed> $payments
     */
    private static function checkPayments(array $payments, int $total): void
    {
        $paid = 0;
        $terms = [];
        foreach (Payment::ALL as $form) {
            $paid += $payments[$form];
            $terms[] = "$form {$payments[$form]}";
        }
        if ($paid !== $total) {
            throw new ReceiptInvalid('oplata_arr', "expected the payments to add up to itog_cheka $total, got $paid (= " . implode(' + ', $terms) . ')');
        }
    }

    /**
     * @param array<string, mixed> $oplata
     * @param list<string> $moved fields of $oplata that korr_arr carries
     * @return array<string, mixed>
     */
    private static function payments(array $oplata, string $sendType, array $moved = []): array
    {
        $p = static fn (string $name): string => (in_array($name, $moved, true) ? 'korr_arr.' : 'oplata_arr.') . $name;
        $tax = self::int($oplata, 'rezhim_nalog', $p('rezhim_nalog'));
        if (!in_array($tax, TaxSystem::ALL, true)) {
            $why = $tax === 3 ? 'tax system 3 (imputed income, ENVD) no longer exists' : "got $tax";
            throw new ReceiptInvalid($p('rezhim_nalog'), "expected a tax system (tag 1055): 0, 1, 2, 4 or 5; $why");
        }
        $out = ['rezhim_nalog' => $tax];
        foreach (Payment::ALL as $form) {
            $out[$form] = self::money($oplata, $form, $p($form), 0);
        }
        $out['kassir_inn'] = self::inn($oplata, 'kassir_inn', 'oplata_arr.kassir_inn');
        $out['kassir_fio'] = self::text($oplata, 'kassir_fio', 'oplata_arr.kassir_fio', 64);
        $email = $oplata['client_email'] ?? null;
        if ($sendType === 'email') {
            if ($email === null || (is_string($email) && trim($email) === '')) {
                throw new ReceiptInvalid('oplata_arr.client_email', 'required when check_send_type is "email"');
            }
            $email = self::text($oplata, 'client_email', 'oplata_arr.client_email', 64, true, false, true);
            if (preg_match('/^[^@\s"<>(),;:\\\\\[\]]+@[^@\s"<>(),;:\\\\\[\]]+\.[^@\s"<>(),;:\\\\\[\]]+\z/u', $email) !== 1) {
                throw new ReceiptInvalid('oplata_arr.client_email', 'expected an e-mail address like name@example.com, got a ' . self::length($email) . '-character string');
            }
        } else {
            $email = self::text($oplata, 'client_email', 'oplata_arr.client_email', 64, false, false, true);
        }
        $phone = $oplata['client_phone'] ?? null;
        if ($sendType === 'phone') {
            if ($phone === null || (is_string($phone) && trim($phone) === '')) {
                throw new ReceiptInvalid('oplata_arr.client_phone', 'required when check_send_type is "phone"');
            }
            $phone = self::phone($oplata, 'client_phone', 'oplata_arr.client_phone', true);
        } else {
            $phone = self::text($oplata, 'client_phone', 'oplata_arr.client_phone', 19, false, true, true);
        }
        $out['client_email'] = $email;
        $out['client_phone'] = $phone;
        $out['inn_pokupatel'] = self::inn($oplata, 'inn_pokupatel', 'oplata_arr.inn_pokupatel');
        $out['name_pokupatel'] = self::text($oplata, 'name_pokupatel', 'oplata_arr.name_pokupatel', 256, false, false, true);
        return $out;
    }

    /**
     * @param array<string, mixed> $parent
     */
    private static function required(array $parent, string $name, string $path): void
    {
        if (!array_key_exists($name, $parent)) {
            throw new ReceiptInvalid($path, 'required field is missing');
        }
        if ($parent[$name] === null) {
            throw new ReceiptInvalid($path, 'required field is null');
        }
    }

    /**
     * @param array<int|string, mixed> $array
     */
    private static function digitKeys(array $array): bool
    {
        foreach (array_keys($array) as $key) {
            if (preg_match('/^\d{1,6}\z/', (string) $key) !== 1) {
                return false;
            }
        }
        return true;
    }

    /**
     * An INN (10 or 12 digits) or "" when not given.
     *
     * @param array<string, mixed> $parent
     */
    private static function inn(array $parent, string $name, string $path): string
    {
        $inn = self::text($parent, $name, $path, 40, false, true, true);
        if ($inn !== '' && preg_match('/^(\d{10}|\d{12})\z/', $inn) !== 1) {
            throw new ReceiptInvalid($path, 'expected an INN of 10 or 12 digits, got a ' . self::length($inn) . '-character string');
        }
        return $inn;
    }

    /**
     * A phone number of 10 to 15 digits (spaces, brackets and dashes allowed, a leading +)
     * or "" when not given and not required.
     *
     * @param array<string, mixed> $parent
     */
    private static function phone(array $parent, string $name, string $path, bool $required = false): string
    {
        $phone = self::text($parent, $name, $path, 19, $required, true, true);
        if ($phone === '' && !$required) {
            return '';
        }
        if (preg_match('/^\+?\d{10,15}\z/', (string) preg_replace('/[\s()\-]/u', '', $phone)) !== 1) {
            throw new ReceiptInvalid($path, 'expected a phone number of 10 to 15 digits like +79991234567, got a ' . self::length($phone) . '-character string');
        }
        return $phone;
    }

    private static function describe(mixed $value): string
    {
        return match (true) {
            $value === null => 'null',
            is_bool($value) => $value ? 'true' : 'false',
            is_array($value) => $value !== [] && array_is_list($value) ? 'an array' : 'an object',
            is_string($value) => "'" . preg_replace('/^(.{40}).+\z/su', '$1…', $value) . "' (string)",
            is_int($value), is_float($value) => substr(var_export($value, true), 0, 40),
            default => get_debug_type($value),
        };
    }

    /**
     * @param array<string, mixed> $parent
     * @return array<string, mixed>
     */
    private static function object(array $parent, string $name): array
    {
        $value = $parent[$name] ?? null;
        if (is_array($value) && count($value) === 1 && array_is_list($value) && is_array($value[0])) {
            $value = $value[0];
        }
        if (!is_array($value) || ($value !== [] && array_is_list($value))) {
            throw new ReceiptInvalid($name, $value === null ? 'required field is missing' : 'expected an object');
        }
        return $value;
    }

    /**
     * A non-negative integer number of kopecks up to MAX_MONEY: an integer, an integral
     * float or a string of digits; $default when missing or null (required when none).
     *
     * @param array<string, mixed> $parent
     */
    private static function money(array $parent, string $name, string $path, ?int $default = null): int
    {
        $value = $parent[$name] ?? null;
        if ($value === null) {
            if ($default !== null) {
                return $default;
            }
            throw new ReceiptInvalid($path, array_key_exists($name, $parent) ? 'required field is null' : 'required field is missing');
        }
        $what = 'expected a non-negative integer number of kopecks, got ';
        if ((is_float($value) && is_finite($value) && floor($value) !== $value)
            || (is_string($value) && preg_match('/^-?\d+\.\d+\z/', $value) === 1)) {
            throw new ReceiptInvalid($path, $what . self::describe($value) . ': money is in kopecks (12.50 roubles is 1250)');
        }
        $amount = self::integer($value);
        if ($amount === null || $amount < 0) {
            throw new ReceiptInvalid($path, $what . self::describe($value) . ' (12.50 roubles is 1250)');
        }
        if ($amount > self::MAX_MONEY) {
            throw new ReceiptInvalid($path, 'expected at most ' . self::MAX_MONEY . ' kopecks, got ' . ($amount === PHP_INT_MAX ? self::describe($value) : $amount));
        }
        return $amount;
    }

    /**
     * @param array<string, mixed> $parent
     */
    private static function int(array $parent, string $name, string $path): int
    {
        $value = $parent[$name] ?? null;
        if ($value === null) {
            throw new ReceiptInvalid($path, array_key_exists($name, $parent) ? 'required field is null' : 'required field is missing');
        }
        $int = self::integer($value);
        if ($int === null || $int === PHP_INT_MAX || $int === PHP_INT_MIN) {
            throw new ReceiptInvalid($path, 'expected an integer, got ' . self::describe($value));
        }
        return $int;
    }

    /**
     * An integer from an integer, an integral float (up to 2^53) or a string of digits with
     * an optional minus; null for anything else; PHP_INT_MAX (PHP_INT_MIN) for one too
     * large (small) to hold.
     */
    private static function integer(mixed $value): ?int
    {
        if (is_int($value)) {
            return $value;
        }
        if (is_float($value)) {
            return is_finite($value) && floor($value) === $value && abs($value) <= 2 ** 53 ? (int) $value : null;
        }
        if (is_string($value) && strlen($value) <= 40 && preg_match('/^(-?)0*(\d+)\z/', $value, $m) === 1) {
            if (strlen($m[2]) > 18) {
                return $m[1] === '-' ? PHP_INT_MIN : PHP_INT_MAX;
            }
            return $m[1] === '-' ? -(int) $m[2] : (int) $m[2];
        }
        return null;
    }

    /**
     * A string of at most $max characters without control characters; missing or null is
     * "" unless $required. $numbersOk takes a non-negative integer as its digits.
     * $secret keeps the value out of the message.
     *
     * @param array<string, mixed> $parent
     */
    private static function text(array $parent, string $name, string $path, int $max, bool $required = false, bool $numbersOk = false, bool $secret = false): string
    {
        $value = $parent[$name] ?? null;
        if ($value === null) {
            if ($required) {
                throw new ReceiptInvalid($path, array_key_exists($name, $parent) ? 'required field is null' : 'required field is missing');
            }
            return '';
        }
        if ($numbersOk && is_int($value) && $value >= 0) {
            $value = (string) $value;
        }
        if (!is_string($value)) {
            throw new ReceiptInvalid($path, 'expected a string, got ' . ($secret ? get_debug_type($value) : self::describe($value)));
        }
        if (preg_match('//u', $value) !== 1) {
            throw new ReceiptInvalid($path, 'not valid UTF-8');
        }
        $length = self::length($value);
        if ($length > $max) {
            throw new ReceiptInvalid($path, "expected at most $max characters, got $length");
        }
        if (preg_match('/[\x00-\x1F\x7F]/', $value) === 1) {
            throw new ReceiptInvalid($path, 'control characters (line breaks, tabs, NUL ...) are not allowed');
        }
        if ($required && trim($value) === '') {
            throw new ReceiptInvalid($path, 'must not be empty');
        }
        return $value;
    }

    private static function length(string $utf8): int
    {
        return (int) preg_match_all('/./su', $utf8);
    }

    private static function isoDate(?\DateTimeInterface $date): string
    {
        $moscow = new \DateTimeZone('Europe/Moscow');
        if ($date === null) {
            return (new \DateTimeImmutable('now', $moscow))->format('Y-m-d');
        }
        return $date->format('Y-m-d');
    }
}
