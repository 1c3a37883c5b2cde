<?php

declare(strict_types=1);

namespace Kassagate;

use Kassagate\Exception\ReceiptInvalid;

/**
 * Builds a receipt from lines and payments, computing what can be computed (line sums,
 * unit prices after discount, the total) and checking the rest before anything is sent:
 *
 *     $receipt = ReceiptBuilder::sale(TaxSystem::SIMPLIFIED_INCOME)
 *         ->line('Green tea 100 g', 15000, quantity: 2)
 *         ->line('Delivery', 30000, subject: PaymentSubject::SERVICE)
 *         ->pay(Payment::ELECTRONIC, 60000)
 *         ->email('buyer@example.com')
 *         ->build();
 *
 * Money is integer kopecks. build() throws ReceiptInvalid (code 60, the field path) when
 * the payments do not add up to the total, a given sum or unit price does not match the
 * price, quantity and discount, or a value is out of range.
 */
final class ReceiptBuilder
{
    /** The agent and supplier strings of a line (wire names). */
    private const AGENT_STRINGS = ['phone_oper_perevoda', 'operation_plat_agenta', 'phone_oper_priem_plat', 'name_oper_perevoda',
        'address_oper_perevoda', 'inn_oper_perevoda', 'phone_postavshika', 'name_postavshika'];

    /** @var list<array<string, mixed>> */
    private array $lines = [];
    /** @var array<string, int> */
    private array $payments = [];
    private ?string $payRest = null;
    private ?int $declaredTotal = null;
    private string $email = '';
    private string $phone = '';
    private string $order = '';
    private string $cms = 'kassagate-php';
    private string $cashierName = '';
    private string $cashierInn = '';
    private string $buyerName = '';
    private string $buyerInn = '';
    /** @var array<string, string> */
    private array $vending = [];

    public function __construct(private readonly int $taxSystem, private readonly int $settlementSign = SettlementSign::SALE)
    {
    }

    public static function sale(int $taxSystem): self
    {
        return new self($taxSystem, SettlementSign::SALE);
    }

    public static function saleReturn(int $taxSystem): self
    {
        return new self($taxSystem, SettlementSign::SALE_RETURN);
    }

    public static function purchase(int $taxSystem): self
    {
        return new self($taxSystem, SettlementSign::PURCHASE);
    }

    public static function purchaseReturn(int $taxSystem): self
    {
        return new self($taxSystem, SettlementSign::PURCHASE_RETURN);
    }

    /**
     * One line. $price is the unit price before discount, $discount the discount
     * (kopecks): on the whole line, or per unit with $discountPerUnit; $quantity up to 3
     * decimals (2, '1.5', 0.25). $sum (the line total) and $unitPrice (after discount) are
     * computed when left out: round($price × $quantity) − $discount, or per unit
     * round(($price − $discount) × $quantity). When given (as your shop computed them) they
     * are checked: $sum must match either reading of the discount within 1 kopeck,
     * $unitPrice × $quantity within ceil($quantity) kopecks of $sum.
     *
     * $agent is the agent sign (tag 1222): null, 'none' or 40 for a line sold on your own
     * account, 0 to 6 for an agent's line, whose agent and supplier strings go in
     * $agentData by their wire names (name_postavshika, phone_postavshika,
     * phone_oper_priem_plat...): the ones the sign requires are checked.
     *
     * @param array<string, string> $agentData
     */
    public function line(
        string $name,
        int $price,
        int|float|string $quantity = 1,
        int $vat = Vat::WITHOUT,
        int $discount = 0,
        ?int $sum = null,
        ?int $unitPrice = null,
        int $method = PaymentMethod::FULL_PAYMENT,
        int $subject = PaymentSubject::GOODS,
        ?int $measure = null,
        bool $discountPerUnit = false,
        int|string|null $agent = null,
        array $agentData = [],
    ): self {
        $unknown = array_diff(array_keys($agentData), self::AGENT_STRINGS);
        if ($unknown !== []) {
            throw new \InvalidArgumentException('agentData takes ' . implode(', ', self::AGENT_STRINGS) . '; got ' . implode(', ', $unknown));
        }
        $this->lines[] = [
            'name_tovar' => $name,
            'price_piece_bez_skidki' => $price,
            'kolvo' => $quantity,
            'skidka' => $discount,
            'sum' => $sum,
            'price_piece' => $unitPrice,
            'stavka_nds' => $vat,
            'priznak_sposoba_rascheta' => $method,
            'priznak_predmeta_rascheta' => $subject,
            'mera_kolva_predmeta_rasheta' => $measure,
            'per_unit' => $discountPerUnit,
            'priznak_agenta' => $agent ?? 'none',
            'agent' => $agentData,
        ];
        return $this;
    }

    /**
     * A payment of $amount kopecks in $form (Payment::ELECTRONIC, Payment::CASH...). The
     * payments must add up to the total exactly.
     */
    public function pay(string $form, int $amount): self
    {
        if (!in_array($form, Payment::ALL, true)) {
            throw new \InvalidArgumentException('payment form must be one of ' . implode(', ', Payment::ALL));
        }
        $this->payments[$form] = ($this->payments[$form] ?? 0) + $amount;
        return $this;
    }

    /**
     * Whatever the other payments leave of the total is paid in $form.
     */
    public function payRest(string $form = Payment::ELECTRONIC): self
    {
        if (!in_array($form, Payment::ALL, true)) {
            throw new \InvalidArgumentException('payment form must be one of ' . implode(', ', Payment::ALL));
        }
        $this->payRest = $form;
        return $this;
    }

    /**
     * The total your shop expects (itog_cheka): build() checks it equals the sum of the lines.
     */
    public function expectTotal(int $total): self
    {
        $this->declaredTotal = $total;
        return $this;
    }

    /** The receipt is sent to this e-mail (check_send_type "email"). */
    public function email(string $email): self
    {
        $this->email = $email;
        return $this;
    }

    /** The receipt is sent to this phone (check_send_type "phone") unless an e-mail is set. */
    public function phone(string $phone): self
    {
        $this->phone = $phone;
        return $this;
    }

    /** The order label shown in the cabinet (name_zakaz). */
    public function order(string $label): self
    {
        $this->order = $label;
        return $this;
    }

    /** The integrating software's name (cms). */
    public function cms(string $name): self
    {
        $this->cms = $name;
        return $this;
    }

    public function cashier(string $name, string $inn = ''): self
    {
        $this->cashierName = $name;
        $this->cashierInn = $inn;
        return $this;
    }

    public function buyer(string $name, string $inn = ''): self
    {
        $this->buyerName = $name;
        $this->buyerInn = $inn;
        return $this;
    }

    /** The vending machine's address, place and number (required by a vending kassa). */
    public function vending(string $address, string $place, string $machineNumber): self
    {
        $this->vending = [
            'check_vend_address' => $address,
            'check_vend_mesto' => $place,
            'check_vend_num_avtovat' => $machineNumber,
        ];
        return $this;
    }

    /**
     * Compute and check; $settlementDate (default today in Moscow) decides the VAT codes a
     * sale or purchase may use.
     *
     * @throws ReceiptInvalid
     */
    public function build(?\DateTimeInterface $settlementDate = null): Receipt
    {
        $products = [];
        foreach ($this->lines as $i => $line) {
            $products[] = $this->productWire($line, "products_arr[$i]");
        }
        $total = 0;
        foreach ($products as $product) {
            $total += $product['summa'];
        }
        $oplata = ['rezhim_nalog' => $this->taxSystem];
        foreach (Payment::ALL as $form) {
            $oplata[$form] = $this->payments[$form] ?? 0;
        }
        if ($this->payRest !== null) {
            $rest = $total - array_sum($this->payments);
            if ($rest < 0) {
                throw new ReceiptInvalid('oplata_arr', 'the payments (' . array_sum($this->payments) . ") exceed the total $total");
            }
            $oplata[$this->payRest] += $rest;
        }
        $oplata += [
            'kassir_inn' => $this->cashierInn,
            'kassir_fio' => $this->cashierName,
            'client_email' => $this->email,
            'client_phone' => $this->phone,
        ];
        if ($this->buyerName !== '') {
            $oplata['name_pokupatel'] = $this->buyerName;
        }
        if ($this->buyerInn !== '') {
            $oplata['inn_pokupatel'] = $this->buyerInn;
        }
        $receipt = [
            'cms' => $this->cms,
            'check_send_type' => $this->email !== '' ? 'email' : ($this->phone !== '' ? 'phone' : 'none'),
            'name_zakaz' => $this->order,
        ] + $this->vending + [
            'products_arr' => $products,
            'oplata_arr' => $oplata,
            'itog_arr' => [
                'priznak_rascheta' => $this->settlementSign,
                'itog_cheka' => $this->declaredTotal ?? $total,
            ],
        ];
        return Receipt::fromArray($receipt, $settlementDate);
    }

    /**
     * @param array<string, mixed> $line
     * @return array<string, mixed>
     */
    private function productWire(array $line, string $path): array
    {
        $milli = Receipt::quantity($line['kolvo'], "$path.kolvo");
        $price = $line['price_piece_bez_skidki'];
        $sum = $line['sum'];
        if ($sum === null) {
            if ($price < 0) {
                throw new ReceiptInvalid("$path.price_piece_bez_skidki", "expected a non-negative integer number of kopecks, got $price");
            }
            $q = Receipt::quantityText($milli);
            if ($line['skidka'] < 0) {
                throw new ReceiptInvalid("$path.skidka", "expected a non-negative integer number of kopecks, got {$line['skidka']}");
            }
            if ($line['per_unit']) {
                if ($line['skidka'] > $price) {
                    throw new ReceiptInvalid("$path.skidka", "expected at most $price (= price_piece_bez_skidki, a discount per unit), got {$line['skidka']}");
                }
                $sum = Receipt::times($price - $line['skidka'], $milli);
            } else {
                $gross = Receipt::times($price, $milli);
                if ($gross === null) {
                    throw new ReceiptInvalid("$path.price_piece_bez_skidki", "price_piece_bez_skidki $price × kolvo $q exceeds the money limit of " . Receipt::MAX_MONEY . ' kopecks');
                }
                if ($line['skidka'] > $gross) {
                    throw new ReceiptInvalid("$path.skidka", "expected at most $gross (= round(price_piece_bez_skidki $price × kolvo $q)), got {$line['skidka']}");
                }
                $sum = $gross - $line['skidka'];
            }
            if ($sum === null) {
                throw new ReceiptInvalid("$path.price_piece_bez_skidki", "(price_piece_bez_skidki $price − skidka {$line['skidka']}) × kolvo $q exceeds the money limit of " . Receipt::MAX_MONEY . ' kopecks');
            }
        }
        $unitPrice = $line['price_piece'];
        if ($unitPrice === null && $sum >= 0 && $sum <= Receipt::MAX_MONEY) {
            $unitPrice = intdiv(2 * $sum * 1000 + $milli, 2 * $milli);
        }
        $product = [
            'name_tovar' => $line['name_tovar'],
            'price_piece_bez_skidki' => $price,
            'kolvo' => Receipt::quantityWire($milli),
            'skidka' => $line['skidka'],
            'price_piece' => $unitPrice ?? $price,
            'summa' => $sum,
            'stavka_nds' => $line['stavka_nds'],
            'priznak_sposoba_rascheta' => $line['priznak_sposoba_rascheta'],
            'priznak_predmeta_rascheta' => $line['priznak_predmeta_rascheta'],
            'priznak_agenta' => $line['priznak_agenta'],
        ] + $line['agent'];
        if ($line['mera_kolva_predmeta_rasheta'] !== null) {
            $product['mera_kolva_predmeta_rasheta'] = (string) $line['mera_kolva_predmeta_rasheta'];
        }
        return $product;
    }
}
