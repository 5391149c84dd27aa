"""Photos: any upload -> RGB (images), Oxford-IIIT Pet's index, trimaps and head boxes (pets), the shipped samples,
thumbnails, and the Dataset page's orders and filters by a model's answers (browse)."""
