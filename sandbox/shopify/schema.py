"""The SDL subset of Shopify's Admin GraphQL schema (2025-01) the sandbox executes.

Types, fields, arguments and enums follow the reference at
https://shopify.dev/docs/api/admin-graphql/2025-01 (QueryRoot, Product, ProductVariant,
Customer, Order, LineItem, Refund, Fulfillment, Collection, Location, InventoryLevel,
DeletionEvent, BulkOperation, bulkOperationRunQuery, bulkOperationCancel). Only what
the connector and its tests need is declared; a field not declared here answers
``undefinedField`` exactly as a misspelt field does on Shopify.
"""

from __future__ import annotations

from functools import lru_cache

from graphql import GraphQLSchema, build_schema

# Connection arguments of every paginated field
# (https://shopify.dev/docs/api/usage/pagination-graphql).
_PAGE = "first: Int, after: String, last: Int, before: String, reverse: Boolean = false"

SDL = f"""
schema {{ query: QueryRoot mutation: Mutation }}

scalar DateTime
scalar Decimal
scalar URL
scalar UnsignedInt64
scalar Money

interface Node {{ id: ID! }}

type PageInfo {{
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
  startCursor: String
  endCursor: String
}}

enum CurrencyCode {{ USD EUR CAD GBP }}

type MoneyV2 {{ amount: Decimal! currencyCode: CurrencyCode! }}
type MoneyBag {{ shopMoney: MoneyV2! presentmentMoney: MoneyV2! }}

type Shop implements Node {{
  id: ID!
  name: String!
  email: String!
  myshopifyDomain: String!
  currencyCode: CurrencyCode!
  ianaTimezone: String!
}}

enum ProductStatus {{ ACTIVE ARCHIVED DRAFT }}
enum ProductSortKeys {{
  CREATED_AT ID INVENTORY_TOTAL PRODUCT_TYPE PUBLISHED_AT RELEVANCE TITLE UPDATED_AT VENDOR
}}
enum ProductVariantSortKeys {{ ID POSITION SKU TITLE }}

type Product implements Node {{
  id: ID!
  legacyResourceId: UnsignedInt64!
  title: String!
  handle: String!
  descriptionHtml: String!
  vendor: String!
  productType: String!
  status: ProductStatus!
  tags: [String!]!
  totalInventory: Int!
  createdAt: DateTime!
  updatedAt: DateTime!
  publishedAt: DateTime
  variants({_PAGE}, sortKey: ProductVariantSortKeys = POSITION): ProductVariantConnection!
  variantsCount: Count
}}

enum CountPrecision {{ AT_LEAST EXACT }}
type Count {{ count: Int! precision: CountPrecision! }}

type ProductConnection {{ edges: [ProductEdge!]! nodes: [Product!]! pageInfo: PageInfo! }}
type ProductEdge {{ cursor: String! node: Product! }}

type InventoryItem implements Node {{
  id: ID!
  legacyResourceId: UnsignedInt64!
  sku: String
  tracked: Boolean!
  createdAt: DateTime!
  updatedAt: DateTime!
}}

type ProductVariant implements Node {{
  id: ID!
  legacyResourceId: UnsignedInt64!
  title: String!
  sku: String
  barcode: String
  price: Money!
  compareAtPrice: Money
  position: Int!
  inventoryQuantity: Int
  inventoryItem: InventoryItem!
  product: Product!
  createdAt: DateTime!
  updatedAt: DateTime!
}}

type ProductVariantConnection {{
  edges: [ProductVariantEdge!]!
  nodes: [ProductVariant!]!
  pageInfo: PageInfo!
}}
type ProductVariantEdge {{ cursor: String! node: ProductVariant! }}

enum CustomerState {{ DECLINED DISABLED ENABLED INVITED }}
enum CustomerSortKeys {{ CREATED_AT ID LOCATION NAME RELEVANCE UPDATED_AT }}

type Customer implements Node {{
  id: ID!
  legacyResourceId: UnsignedInt64!
  firstName: String
  lastName: String
  displayName: String!
  email: String
  phone: String
  state: CustomerState!
  verifiedEmail: Boolean!
  taxExempt: Boolean!
  tags: [String!]!
  numberOfOrders: UnsignedInt64!
  amountSpent: MoneyV2!
  note: String
  createdAt: DateTime!
  updatedAt: DateTime!
}}

type CustomerConnection {{ edges: [CustomerEdge!]! nodes: [Customer!]! pageInfo: PageInfo! }}
type CustomerEdge {{ cursor: String! node: Customer! }}

enum OrderDisplayFinancialStatus {{
  AUTHORIZED EXPIRED PAID PARTIALLY_PAID PARTIALLY_REFUNDED PENDING REFUNDED VOIDED
}}
enum OrderDisplayFulfillmentStatus {{
  FULFILLED IN_PROGRESS ON_HOLD OPEN PARTIALLY_FULFILLED PENDING_FULFILLMENT RESTOCKED SCHEDULED
  UNFULFILLED
}}
enum OrderSortKeys {{
  CREATED_AT CUSTOMER_NAME FINANCIAL_STATUS FULFILLMENT_STATUS ID NUMBER PROCESSED_AT RELEVANCE
  TOTAL_PRICE UPDATED_AT
}}
enum FulfillmentStatus {{ CANCELLED ERROR FAILURE SUCCESS OPEN PENDING }}

type Order implements Node {{
  id: ID!
  legacyResourceId: UnsignedInt64!
  name: String!
  email: String
  createdAt: DateTime!
  updatedAt: DateTime!
  processedAt: DateTime!
  cancelledAt: DateTime
  closedAt: DateTime
  currencyCode: CurrencyCode!
  displayFinancialStatus: OrderDisplayFinancialStatus
  displayFulfillmentStatus: OrderDisplayFulfillmentStatus!
  totalPriceSet: MoneyBag!
  subtotalPriceSet: MoneyBag
  totalRefundedSet: MoneyBag!
  tags: [String!]!
  test: Boolean!
  customer: Customer
  lineItems({_PAGE}): LineItemConnection!
  refunds(first: Int): [Refund!]!
  fulfillments(first: Int): [Fulfillment!]!
}}

type OrderConnection {{ edges: [OrderEdge!]! nodes: [Order!]! pageInfo: PageInfo! }}
type OrderEdge {{ cursor: String! node: Order! }}

type LineItem implements Node {{
  id: ID!
  title: String!
  name: String!
  sku: String
  quantity: Int!
  currentQuantity: Int!
  originalUnitPriceSet: MoneyBag!
  variant: ProductVariant
  product: Product
}}

type LineItemConnection {{ edges: [LineItemEdge!]! nodes: [LineItem!]! pageInfo: PageInfo! }}
type LineItemEdge {{ cursor: String! node: LineItem! }}

type Refund implements Node {{
  id: ID!
  legacyResourceId: UnsignedInt64!
  note: String
  createdAt: DateTime
  updatedAt: DateTime!
  totalRefundedSet: MoneyBag!
}}

type FulfillmentTrackingInfo {{ company: String number: String url: URL }}

type Fulfillment implements Node {{
  id: ID!
  legacyResourceId: UnsignedInt64!
  name: String!
  status: FulfillmentStatus!
  createdAt: DateTime!
  updatedAt: DateTime!
  trackingInfo(first: Int): [FulfillmentTrackingInfo!]!
}}

enum CollectionSortKeys {{ ID RELEVANCE TITLE UPDATED_AT }}
enum CollectionSortOrder {{
  ALPHA_ASC ALPHA_DESC BEST_SELLING CREATED CREATED_DESC MANUAL PRICE_ASC PRICE_DESC
}}

type Collection implements Node {{
  id: ID!
  legacyResourceId: UnsignedInt64!
  title: String!
  handle: String!
  descriptionHtml: String!
  sortOrder: CollectionSortOrder!
  updatedAt: DateTime!
  products({_PAGE}, sortKey: ProductCollectionSortKeys = COLLECTION_DEFAULT): ProductConnection!
  productsCount: Count
}}

enum ProductCollectionSortKeys {{
  BEST_SELLING COLLECTION_DEFAULT CREATED ID MANUAL PRICE RELEVANCE TITLE
}}

type CollectionConnection {{ edges: [CollectionEdge!]! nodes: [Collection!]! pageInfo: PageInfo! }}
type CollectionEdge {{ cursor: String! node: Collection! }}

enum LocationSortKeys {{ ID NAME RELEVANCE }}

type Location implements Node {{
  id: ID!
  legacyResourceId: UnsignedInt64!
  name: String!
  isActive: Boolean!
  createdAt: DateTime!
  updatedAt: DateTime!
  inventoryLevels({_PAGE}, query: String): InventoryLevelConnection!
}}

type LocationConnection {{ edges: [LocationEdge!]! nodes: [Location!]! pageInfo: PageInfo! }}
type LocationEdge {{ cursor: String! node: Location! }}

type InventoryQuantity {{ id: ID! name: String! quantity: Int! updatedAt: DateTime }}

type InventoryLevel implements Node {{
  id: ID!
  createdAt: DateTime!
  updatedAt: DateTime!
  canDeactivate: Boolean!
  item: InventoryItem!
  location: Location!
  quantities(names: [String!]!): [InventoryQuantity!]!
}}

type InventoryLevelConnection {{
  edges: [InventoryLevelEdge!]!
  nodes: [InventoryLevel!]!
  pageInfo: PageInfo!
}}
type InventoryLevelEdge {{ cursor: String! node: InventoryLevel! }}

enum DeletionEventSubjectType {{ COLLECTION PRODUCT }}
enum DeletionEventSortKeys {{ CREATED_AT ID RELEVANCE }}

type DeletionEvent {{ occurredAt: DateTime! subjectId: ID! subjectType: DeletionEventSubjectType! }}
type DeletionEventConnection {{
  edges: [DeletionEventEdge!]!
  nodes: [DeletionEvent!]!
  pageInfo: PageInfo!
}}
type DeletionEventEdge {{ cursor: String! node: DeletionEvent! }}

enum BulkOperationStatus {{ CANCELED CANCELING COMPLETED CREATED EXPIRED FAILED RUNNING }}
enum BulkOperationErrorCode {{ ACCESS_DENIED INTERNAL_SERVER_ERROR TIMEOUT }}
enum BulkOperationType {{ MUTATION QUERY }}

type BulkOperation implements Node {{
  id: ID!
  status: BulkOperationStatus!
  errorCode: BulkOperationErrorCode
  type: BulkOperationType!
  query: String!
  objectCount: UnsignedInt64!
  rootObjectCount: UnsignedInt64!
  fileSize: UnsignedInt64
  url: URL
  partialDataUrl: URL
  createdAt: DateTime!
  completedAt: DateTime
}}

enum BulkOperationUserErrorCode {{ INVALID OPERATION_IN_PROGRESS }}
type BulkOperationUserError {{ field: [String!] message: String! code: BulkOperationUserErrorCode }}
type UserError {{ field: [String!] message: String! }}
type BulkOperationRunQueryPayload {{
  bulkOperation: BulkOperation
  userErrors: [BulkOperationUserError!]!
}}
type BulkOperationCancelPayload {{ bulkOperation: BulkOperation userErrors: [UserError!]! }}

type QueryRoot {{
  shop: Shop!
  node(id: ID!): Node
  nodes(ids: [ID!]!): [Node]!
  product(id: ID!): Product
  customer(id: ID!): Customer
  order(id: ID!): Order
  collection(id: ID!): Collection
  location(id: ID): Location
  products({_PAGE}, query: String, sortKey: ProductSortKeys = ID): ProductConnection!
  customers({_PAGE}, query: String, sortKey: CustomerSortKeys = ID): CustomerConnection!
  orders({_PAGE}, query: String, sortKey: OrderSortKeys = PROCESSED_AT): OrderConnection!
  collections({_PAGE}, query: String, sortKey: CollectionSortKeys = ID): CollectionConnection!
  locations({_PAGE}, query: String, sortKey: LocationSortKeys = NAME): LocationConnection!
  deletionEvents(
    {_PAGE}, query: String, sortKey: DeletionEventSortKeys = ID,
    subjectTypes: [DeletionEventSubjectType!]
  ): DeletionEventConnection!
  currentBulkOperation(type: BulkOperationType = QUERY): BulkOperation
  productsCount(query: String, savedSearchId: ID, limit: Int = 10000): Count
  customersCount(query: String, limit: Int = 10000): Count
  ordersCount(query: String, limit: Int = 10000, savedSearchId: ID): Count
  collectionsCount(query: String, savedSearchId: ID, limit: Int = 10000): Count
}}

type Mutation {{
  bulkOperationRunQuery(
    query: String!, groupObjects: Boolean! = false
  ): BulkOperationRunQueryPayload
  bulkOperationCancel(id: ID!): BulkOperationCancelPayload
}}
"""


@lru_cache(maxsize=1)
def base_schema() -> GraphQLSchema:
    """The schema without resolvers (validation and cost only); built once."""
    return build_schema(SDL)


def build() -> GraphQLSchema:
    """A fresh schema object each sandbox can attach its own resolvers to."""
    return build_schema(SDL)
