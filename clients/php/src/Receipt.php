<?php

declare(strict_types=1);

namespace Kassagate;

use Kassagate\Exception\ReceiptInvalid;

/**
 * A checked receipt in its wire form (the layer 1 JSON), without kassaid and kassatoken:
 * the client fills those in. Build one with ReceiptBuilder, or check a wire array you
 * already have with Receipt::fromArray().
 *
 * The checks are the front server's rules for what changes the fiscal document: line
 * arithmetic, totals, payments, ranges of the enumerations, VAT by date, lengths. A broken
 * rule throws ReceiptInvalid (code 60, the field path, what was expected) and nothing is
 * sent. A korr_arr (return basis, correction) is carried as given: the server checks it.
 */
final class Receipt implements \JsonSerializable
{
    /** Money is integer kopecks, 0 to 2^48 - 1 (fiscal sums are 6-byte numbers). */
    public const MAX_MONEY = 281474976710655;
    /** Quantities in thousandths: at most 99999999.999. */
    public const MAX_QUANTITY_MILLI = 99999999999;
    public const MAX_PRODUCTS = 1000;
    /** Measures of quantity (tag 2108). */
    public const MEASURES = [0, 10, 11, 12, 20, 21, 22, 30, 31, 32, 40, 41, 42, 50, 51, 70, 71, 72, 73, 80, 81, 82, 83, 255];
    private const SIGN_NAMES = '1 sale, 2 sale return, 3 purchase, 4 purchase return';

    /**
     * @param array<string, mixed> $wire
     */
    private function __construct(private readonly array $wire)
    {
    }

    /**
     * Check a receipt in the wire form of the protocol (products_arr, oplata_arr,
     * itog_arr...). Numbers may be integers or strings of digits, quantities decimal strings
     * or numbers. $settlementDate (default: today in Moscow) decides which VAT codes a sale
     * or purchase may use. kassaid/kassatoken, when present, are kept (the client checks
     * they are its own).
     *
     * @param array<string, mixed> $receipt
     */
    public static function fromArray(array $receipt, ?\DateTimeInterface $settlementDate = null): self
    {
        $today = self::isoDate($settlementDate);
        $wire = [];
        foreach (['kassaid', 'kassatoken'] as $name) {
            if (isset($receipt[$name]) && $receipt[$name] !== '') {
                $wire[$name] = (string) $receipt[$name];
            }
        }
        $wire['cms'] = self::text($receipt, 'cms', 'cms', 128, true);
        $sendType = strtolower((string) self::text($receipt, 'check_send_type', 'check_send_type', 16, false, 'none'));
        if (!in_array($sendType, ['email', 'phone', 'none'], true)) {
            throw new ReceiptInvalid('check_send_type', 'expected "email", "phone" or "none"');
        }
        $wire['check_send_type'] = $sendType;
        $wire['name_zakaz'] = self::text($receipt, 'name_zakaz', 'name_zakaz', 256);
        foreach (['check_vend_address' => 256, 'check_vend_mesto' => 256, 'check_vend_num_avtovat' => 20] as $name => $max) {
            if (array_key_exists($name, $receipt)) {
                $wire[$name] = self::text($receipt, $name, $name, $max);
            }
        }

        $itog = self::object($receipt, 'itog_arr');
        $sign = self::int($itog, 'priznak_rascheta', 'itog_arr.priznak_rascheta');
        if ($sign < 1 || $sign > 4) {
            throw new ReceiptInvalid('itog_arr.priznak_rascheta', 'expected a settlement sign (tag 1054): ' . self::SIGN_NAMES . ", got $sign");
        }
        $declaredTotal = self::money($itog, 'itog_cheka', 'itog_arr.itog_cheka');

        $products = $receipt['products_arr'] ?? null;
        if (!is_array($products) || !array_is_list($products)) {
            throw new ReceiptInvalid('products_arr', 'expected an array of products');
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
            $line = self::product($product, "products_arr[$i]", $sign, $today);
            $wire['products_arr'][] = $line;
            $sums[] = $line['summa'];
        }

        $oplata = self::object($receipt, 'oplata_arr');
        $payments = self::payments($oplata, $sendType);

        $total = array_sum($sums);
        if ($declaredTotal !== $total) {
            $terms = count($sums) <= 10 ? ': ' . implode(' + ', $sums) : '';
            throw new ReceiptInvalid('itog_arr.itog_cheka', "expected $total (= Σ products_arr[].summa$terms), got $declaredTotal");
        }
        $paid = 0;
        $terms = [];
        foreach (Payment::ALL as $form) {
            $paid += $payments[$form];
            $terms[] = "$form {$payments[$form]}";
        }
        if ($paid !== $total) {
            throw new ReceiptInvalid('oplata_arr', "expected the payments to add up to itog_cheka $total, got $paid (= " . implode(' + ', $terms) . ')');
        }
        $wire['oplata_arr'] = $payments;
        $wire['itog_arr'] = ['priznak_rascheta' => $sign, 'itog_cheka' => $total];
        if (isset($receipt['korr_arr'])) {
            $wire['korr_arr'] = $receipt['korr_arr'];
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
        if ($amount > 0 && $milli > intdiv(PHP_INT_MAX - 500, $amount)) {
            return null;
        }
        $value = intdiv($amount * $milli + 500, 1000);
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
        if (preg_match('/^(\d{1,9})(?:\.(\d+))?$/', $text, $m) !== 1) {
            throw new ReceiptInvalid($path, "expected a positive quantity like 2 or 1.5, got '" . substr($text, 0, 40) . "'");
        }
        $decimals = $m[2] ?? '';
        if (strlen(rtrim($decimals, '0')) > 3) {
            throw new ReceiptInvalid($path, "expected at most 3 decimals, got '$text'");
        }
        $milli = (int) $m[1] * 1000 + (int) str_pad(substr($decimals, 0, 3), 3, '0');
        if ($milli <= 0) {
            throw new ReceiptInvalid($path, "expected a quantity above 0, got '$text'");
        }
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
    private static function product(mixed $product, string $path, int $sign, string $today): array
    {
        if (!is_array($product) || ($product !== [] && array_is_list($product))) {
            throw new ReceiptInvalid($path, 'expected a product object');
        }
        $name = self::text($product, 'name_tovar', "$path.name_tovar", 128, true);
        if (!array_key_exists('kolvo', $product) || $product['kolvo'] === null) {
            throw new ReceiptInvalid("$path.kolvo", 'required field is missing');
        }
        $milli = self::quantity($product['kolvo'], "$path.kolvo");
        $q = self::quantityText($milli);
        $pricePiece = self::money($product, 'price_piece', "$path.price_piece");
        $price = array_key_exists('price_piece_bez_skidki', $product) && $product['price_piece_bez_skidki'] !== null
            ? self::money($product, 'price_piece_bez_skidki', "$path.price_piece_bez_skidki")
            : $pricePiece;
        $discount = self::money($product, 'skidka', "$path.skidka", 0);
        $summa = self::money($product, 'summa', "$path.summa");

        $vat = self::int($product, 'stavka_nds', "$path.stavka_nds");
        if (!isset(Vat::TABLE[$vat])) {
            throw new ReceiptInvalid("$path.stavka_nds", "expected a VAT code (tag 1199) from 1 to 12, got $vat");
        }
        if (($sign === SettlementSign::SALE || $sign === SettlementSign::PURCHASE) && !Vat::validOn($vat, $today)) {
            $valid = implode(', ', array_map(static fn (int $c): string => $c . ' (' . Vat::TABLE[$c][0] . ')', Vat::codesValidOn($today)));
            throw new ReceiptInvalid("$path.stavka_nds", "VAT code $vat (" . Vat::TABLE[$vat][0] . ") is not valid on $today; valid codes: $valid");
        }
        $method = self::int($product, 'priznak_sposoba_rascheta', "$path.priznak_sposoba_rascheta");
        if ($method < 1 || $method > 7) {
            throw new ReceiptInvalid("$path.priznak_sposoba_rascheta", "expected a payment method (tag 1214) from 1 to 7, got $method");
        }
        $subject = self::int($product, 'priznak_predmeta_rascheta', "$path.priznak_predmeta_rascheta");
        if ($subject < 1 || $subject > 33) {
            throw new ReceiptInvalid("$path.priznak_predmeta_rascheta", "expected a payment subject (tag 1212) from 1 to 33, got $subject");
        }
        $agent = $product['priznak_agenta'] ?? 'none';
        if ($agent === '' || $agent === 'none' || $agent === 40 || $agent === '40') {
            $agent = 'none';
        } else {
            $agent = self::int($product, 'priznak_agenta', "$path.priznak_agenta");
            if ($agent < 0 || $agent > 6) {
                throw new ReceiptInvalid("$path.priznak_agenta", "expected an agent sign (tag 1222): \"none\" or 0 to 6, got $agent");
            }
        }

        $gross = self::times($price, $milli);
        if ($gross === null) {
            throw new ReceiptInvalid("$path.price_piece_bez_skidki", "price_piece_bez_skidki $price × kolvo $q exceeds the money limit");
        }
        if ($discount > $gross) {
            throw new ReceiptInvalid("$path.skidka", "expected at most $gross (= round(price_piece_bez_skidki $price × kolvo $q)), got $discount");
        }
        $lineDiscount = $gross - $discount;
        $unitDiscount = $discount <= $price ? self::times($price - $discount, $milli) : null;
        if (abs($summa - $lineDiscount) > 1 && ($unitDiscount === null || abs($summa - $unitDiscount) > 1)) {
            throw new ReceiptInvalid("$path.summa", "expected $lineDiscount (= round(price_piece_bez_skidki $price × kolvo $q) − skidka $discount), got $summa");
        }
        $ceil = intdiv($milli + 999, 1000);
        if ($pricePiece > 0 && $milli > intdiv(PHP_INT_MAX, $pricePiece)) {
            throw new ReceiptInvalid("$path.price_piece", "price_piece $pricePiece × kolvo $q exceeds the money limit");
        }
        if (abs($pricePiece * $milli - $summa * 1000) > $ceil * 1000) {
            $expected = intdiv(2 * $summa * 1000 + $milli, 2 * $milli);
            throw new ReceiptInvalid("$path.price_piece", "expected price_piece × kolvo $q within $ceil kopecks of summa $summa (price_piece ≈ $expected), got $pricePiece");
        }

        $line = [
            'name_tovar' => $name,
            'price_piece_bez_skidki' => $price,
            'kolvo' => self::quantityWire($milli),
            'skidka' => $discount,
            'price_piece' => $pricePiece,
            'summa' => $summa,
            'stavka_nds' => $vat,
            'priznak_sposoba_rascheta' => $method,
            'priznak_predmeta_rascheta' => $subject,
            'priznak_agenta' => $agent,
        ];
        if (isset($product['mera_kolva_predmeta_rasheta']) && $product['mera_kolva_predmeta_rasheta'] !== '') {
            $measure = self::int($product, 'mera_kolva_predmeta_rasheta', "$path.mera_kolva_predmeta_rasheta");
            if (!in_array($measure, self::MEASURES, true)) {
                throw new ReceiptInvalid("$path.mera_kolva_predmeta_rasheta", 'expected a measure of quantity (tag 2108): 0 pieces, 10-12, 20-22, 30-32, 40-42, 50-51, 70-73, 80-83 or 255, got ' . $measure);
            }
            $line['mera_kolva_predmeta_rasheta'] = (string) $measure;
        }
        // The agent's and supplier's strings go as given: the server checks them by sign.
        foreach (['phone_oper_perevoda', 'operation_plat_agenta', 'phone_oper_priem_plat', 'name_oper_perevoda',
            'address_oper_perevoda', 'inn_oper_perevoda', 'phone_postavshika', 'name_postavshika'] as $field) {
            if (isset($product[$field]) && is_string($product[$field])) {
                $line[$field] = $product[$field];
            }
        }
        return $line;
    }

    /**
     * @param array<string, mixed> $oplata
     * @return array<string, mixed>
     */
    private static function payments(array $oplata, string $sendType): array
    {
        $tax = self::int($oplata, 'rezhim_nalog', 'oplata_arr.rezhim_nalog');
        if (!in_array($tax, TaxSystem::ALL, true)) {
            $why = $tax === 3 ? 'tax system 3 (imputed income, ENVD) no longer exists' : "got $tax";
            throw new ReceiptInvalid('oplata_arr.rezhim_nalog', "expected a tax system (tag 1055): 0, 1, 2, 4 or 5; $why");
        }
        $out = ['rezhim_nalog' => $tax];
        foreach (Payment::ALL as $form) {
            $out[$form] = self::money($oplata, $form, "oplata_arr.$form", 0);
        }
        foreach (['kassir_inn', 'inn_pokupatel'] as $name) {
            $inn = self::text($oplata, $name, "oplata_arr.$name", 12);
            if ($inn !== '' && preg_match('/^(\d{10}|\d{12})$/', $inn) !== 1) {
                throw new ReceiptInvalid("oplata_arr.$name", 'expected an INN of 10 or 12 digits, got a ' . strlen($inn) . '-character string');
            }
            if ($name === 'kassir_inn' || $inn !== '') {
                $out[$name] = $inn;
            }
        }
        $out['kassir_fio'] = self::text($oplata, 'kassir_fio', 'oplata_arr.kassir_fio', 64);
        $email = self::text($oplata, 'client_email', 'oplata_arr.client_email', 64);
        $phone = self::text($oplata, 'client_phone', 'oplata_arr.client_phone', 32);
        if ($sendType === 'email' && $email === '') {
            throw new ReceiptInvalid('oplata_arr.client_email', 'required when check_send_type is "email"');
        }
        if ($email !== '' && preg_match('/^[^@\s]+@[^@\s]+\.[^@\s]+$/u', $email) !== 1) {
            throw new ReceiptInvalid('oplata_arr.client_email', 'expected an e-mail address like name@example.com, got a ' . self::length($email) . '-character string');
        }
        if ($sendType === 'phone' && $phone === '') {
            throw new ReceiptInvalid('oplata_arr.client_phone', 'required when check_send_type is "phone"');
        }
        if ($phone !== '') {
            $digits = strlen((string) preg_replace('/\D/', '', $phone));
            if (preg_match('/^\+?[\d\s()-]+$/', $phone) !== 1 || $digits < 10 || $digits > 15) {
                throw new ReceiptInvalid('oplata_arr.client_phone', 'expected a phone number of 10 to 15 digits like +79991234567, got a ' . self::length($phone) . '-character string');
            }
        }
        $out['client_email'] = $email;
        $out['client_phone'] = $phone;
        $buyer = self::text($oplata, 'name_pokupatel', 'oplata_arr.name_pokupatel', 256);
        if ($buyer !== '') {
            $out['name_pokupatel'] = $buyer;
        }
        return $out;
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
     * @param array<string, mixed> $parent
     */
    private static function money(array $parent, string $name, string $path, ?int $default = null): int
    {
        $value = $parent[$name] ?? null;
        if ($value === null) {
            if ($default !== null) {
                return $default;
            }
            throw new ReceiptInvalid($path, 'required field is missing');
        }
        if (is_float($value) && floor($value) === $value && abs($value) <= self::MAX_MONEY) {
            $value = (int) $value;
        } elseif (is_string($value) && preg_match('/^\d{1,15}$/', $value) === 1) {
            $value = (int) $value;
        }
        if (!is_int($value) || $value < 0) {
            $shown = is_scalar($value) ? substr(var_export($value, true), 0, 40) : get_debug_type($value);
            throw new ReceiptInvalid($path, "expected a non-negative integer number of kopecks, got $shown (12.50 roubles is 1250)");
        }
        if ($value > self::MAX_MONEY) {
            throw new ReceiptInvalid($path, 'expected at most ' . self::MAX_MONEY . " kopecks, got $value");
        }
        return $value;
    }

    /**
     * @param array<string, mixed> $parent
     */
    private static function int(array $parent, string $name, string $path): int
    {
        $value = $parent[$name] ?? null;
        if ($value === null) {
            throw new ReceiptInvalid($path, 'required field is missing');
        }
        if (is_string($value) && preg_match('/^\d{1,9}$/', $value) === 1) {
            return (int) $value;
        }
        if (is_float($value) && floor($value) === $value && abs($value) < 1e9) {
            return (int) $value;
        }
        if (!is_int($value)) {
            throw new ReceiptInvalid($path, 'expected an integer, got ' . get_debug_type($value));
        }
        return $value;
    }

    /**
     * @param array<string, mixed> $parent
     */
    private static function text(array $parent, string $name, string $path, int $max, bool $required = false, string $default = ''): string
    {
        $value = $parent[$name] ?? null;
        if ($value === null || $value === false) {
            if ($required) {
                throw new ReceiptInvalid($path, 'required field is missing');
            }
            return $default;
        }
        if (is_int($value)) {
            $value = (string) $value;
        }
        if (!is_string($value)) {
            throw new ReceiptInvalid($path, 'expected a string, got ' . get_debug_type($value));
        }
        if (preg_match('//u', $value) !== 1) {
            throw new ReceiptInvalid($path, 'not valid UTF-8');
        }
        if (preg_match('/[\x00-\x1F\x7F]/', $value) === 1) {
            throw new ReceiptInvalid($path, 'control characters (line breaks, tabs, NUL ...) are not allowed');
        }
        if ($required && trim($value) === '') {
            throw new ReceiptInvalid($path, 'must not be empty');
        }
        $length = self::length($value);
        if ($length > $max) {
            throw new ReceiptInvalid($path, "expected at most $max characters, got $length");
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
