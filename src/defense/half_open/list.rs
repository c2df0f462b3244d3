//! Intrusive doubly linked lists threaded through a slab by slot number, as `track/table.rs` does: O(1) append,
//! O(1) unlink from the middle, no allocation. A slot can sit on several lists at once, one [`Link`] per list.

pub(crate) const NIL: u32 = u32::MAX;

/// A slot's place on one list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Link {
    pub(crate) prev: u32,
    pub(crate) next: u32,
}

impl Link {
    pub(crate) const DETACHED: Link = Link { prev: NIL, next: NIL };
}

/// Gives a list access to the links it owns inside the slab.
pub(crate) trait Links {
    fn link(&mut self, slot: u32) -> &mut Link;
}

/// Head and tail of one list; appends go to the tail, so the head is always the oldest member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct List {
    head: u32,
    tail: u32,
}

impl List {
    pub(crate) const EMPTY: List = List { head: NIL, tail: NIL };

    pub(crate) fn head(&self) -> Option<u32> {
        (self.head != NIL).then_some(self.head)
    }

    pub(crate) fn push_back(&mut self, links: &mut impl Links, slot: u32) {
        let tail = self.tail;
        *links.link(slot) = Link { prev: tail, next: NIL };
        if tail == NIL {
            self.head = slot;
        } else {
            links.link(tail).next = slot;
        }
        self.tail = slot;
    }

    pub(crate) fn unlink(&mut self, links: &mut impl Links, slot: u32) {
        let Link { prev, next } = *links.link(slot);
        if prev == NIL {
            self.head = next;
        } else {
            links.link(prev).next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            links.link(next).prev = prev;
        }
        *links.link(slot) = Link::DETACHED;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Slab(Vec<Link>);

    impl Links for Slab {
        fn link(&mut self, slot: u32) -> &mut Link {
            &mut self.0[slot as usize]
        }
    }

    fn members(list: &List, slab: &mut Slab) -> Vec<u32> {
        let mut out = Vec::new();
        let mut cur = list.head;
        while cur != NIL {
            out.push(cur);
            cur = slab.link(cur).next;
        }
        out
    }

    #[test]
    fn unlinks_head_middle_and_tail() {
        let mut slab = Slab(vec![Link::DETACHED; 4]);
        let mut list = List::EMPTY;
        for s in 0..4 {
            list.push_back(&mut slab, s);
        }
        list.unlink(&mut slab, 1);
        assert_eq!(members(&list, &mut slab), [0, 2, 3]);
        list.unlink(&mut slab, 0);
        list.unlink(&mut slab, 3);
        assert_eq!(members(&list, &mut slab), [2]);
        list.unlink(&mut slab, 2);
        assert_eq!(list, List::EMPTY);
        list.push_back(&mut slab, 3);
        assert_eq!(list.head(), Some(3));
    }
}
